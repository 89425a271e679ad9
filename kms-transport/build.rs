//! Compiles `proto/kms/node/v1/node.proto` when the `grpc` feature is on, with protox (a
//! pure-Rust protobuf compiler), so building needs no system `protoc`.

fn main() {
    #[cfg(feature = "grpc")]
    grpc::compile();
}

#[cfg(feature = "grpc")]
mod grpc {
    pub fn compile() {
        let proto = "proto/kms/node/v1/node.proto";
        println!("cargo:rerun-if-changed={proto}");
        let fds = protox::compile([proto], ["proto"]).expect("node.proto compiles");
        tonic_prost_build::configure()
            .build_client(true)
            .build_server(true)
            .compile_fds(fds)
            .expect("code generation for node.proto");
    }
}
