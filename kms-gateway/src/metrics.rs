//! Prometheus metrics in the text exposition format: requests by route and status, sign
//! latency by algorithm (histogram), nodes up.

use std::collections::BTreeMap;
use std::fmt::Write;
use std::sync::Mutex;

const BUCKETS_S: [f64; 12] = [
    0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0,
];

#[derive(Default)]
struct Histogram {
    counts: [u64; BUCKETS_S.len()],
    count: u64,
    sum: f64,
}

/// The gateway's counters.
#[derive(Default)]
pub struct Metrics {
    requests: Mutex<BTreeMap<(String, String, u16), u64>>,
    sign: Mutex<BTreeMap<String, Histogram>>,
}

impl Metrics {
    /// Count one answered request.
    pub fn request(&self, method: &str, route: &str, status: u16) {
        *self
            .requests
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .entry((method.to_string(), route.to_string(), status))
            .or_default() += 1;
    }

    /// Record one signing's latency.
    pub fn sign_latency(&self, algorithm: &str, seconds: f64) {
        let mut sign = self.sign.lock().unwrap_or_else(|p| p.into_inner());
        let h = sign.entry(algorithm.to_string()).or_default();
        for (i, b) in BUCKETS_S.iter().enumerate() {
            if seconds <= *b {
                h.counts[i] += 1;
            }
        }
        h.count += 1;
        h.sum += seconds;
    }

    /// The exposition text, with `nodes_up` of `nodes_total`.
    pub fn render(&self, nodes_up: usize, nodes_total: usize) -> String {
        let mut out = String::new();
        out.push_str("# HELP kms_gateway_requests_total Requests answered, by method, route and status.\n");
        out.push_str("# TYPE kms_gateway_requests_total counter\n");
        for ((m, r, s), n) in self.requests.lock().unwrap_or_else(|p| p.into_inner()).iter() {
            let _ = writeln!(
                out,
                "kms_gateway_requests_total{{method=\"{m}\",route=\"{}\",status=\"{s}\"}} {n}",
                r.replace('\\', "\\\\").replace('"', "\\\"")
            );
        }
        out.push_str(
            "# HELP kms_gateway_sign_duration_seconds Signing latency through the cluster, by algorithm.\n",
        );
        out.push_str("# TYPE kms_gateway_sign_duration_seconds histogram\n");
        for (alg, h) in self.sign.lock().unwrap_or_else(|p| p.into_inner()).iter() {
            for (i, b) in BUCKETS_S.iter().enumerate() {
                let _ = writeln!(
                    out,
                    "kms_gateway_sign_duration_seconds_bucket{{algorithm=\"{alg}\",le=\"{b}\"}} {}",
                    h.counts[i]
                );
            }
            let _ = writeln!(
                out,
                "kms_gateway_sign_duration_seconds_bucket{{algorithm=\"{alg}\",le=\"+Inf\"}} {}",
                h.count
            );
            let _ = writeln!(
                out,
                "kms_gateway_sign_duration_seconds_sum{{algorithm=\"{alg}\"}} {}",
                h.sum
            );
            let _ = writeln!(
                out,
                "kms_gateway_sign_duration_seconds_count{{algorithm=\"{alg}\"}} {}",
                h.count
            );
        }
        out.push_str("# HELP kms_gateway_nodes_up TSS nodes answering.\n# TYPE kms_gateway_nodes_up gauge\n");
        let _ = writeln!(out, "kms_gateway_nodes_up {nodes_up}");
        out.push_str(
            "# HELP kms_gateway_nodes_total TSS nodes configured.\n# TYPE kms_gateway_nodes_total gauge\n",
        );
        let _ = writeln!(out, "kms_gateway_nodes_total {nodes_total}");
        out
    }
}
