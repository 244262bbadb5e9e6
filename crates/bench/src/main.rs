//! `latchkey-bench`: runs named scenarios against a Latchkey server over keep-alive HTTP and
//! prints one line per scenario: requests per second, latency percentiles, errors, and, given
//! the server's PID, server CPU per request and peak memory. Timings are printed, never
//! asserted. Given several `--url`s (replicas of one server on one database), workers are
//! spread over them round-robin. See docs/PERFORMANCE.md for the method.

use clap::Parser;
use latchkey_core::totp;
use serde_json::{json, Value};
use std::collections::VecDeque;
use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, AtomicI64, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

const PASSWORD: &str = "bench-password-123";
const ALL: &[&str] = &[
    "healthz",
    "jwks",
    "signin",
    "refresh",
    "verify-totp",
    "signin-mfa",
    "enroll-totp",
];

#[derive(Parser, Clone)]
#[command(name = "latchkey-bench", about = "Load generator for Latchkey")]
struct Args {
    /// The server's base URL. Repeat it for replicas: worker i uses URL i mod n.
    #[arg(long, default_value = "http://127.0.0.1:8080")]
    url: Vec<String>,
    /// A secret key of the default tenant (enroll-totp uses the admin API).
    #[arg(long, env = "LATCHKEY_BENCH_KEY")]
    key: Option<String>,
    /// Requests in flight at once.
    #[arg(long, default_value_t = 32)]
    concurrency: usize,
    /// Measured time per scenario.
    #[arg(long, default_value = "10s")]
    duration: String,
    /// Unmeasured time before it.
    #[arg(long, default_value = "2s")]
    warmup: String,
    /// The server's process id, for CPU and memory figures. Repeat it for replicas: CPU per
    /// request and resident memory (idle and peak) are then the sums over all the processes.
    #[arg(long)]
    server_pid: Vec<u32>,
    /// Append one JSON object per scenario (the measured figures) to this file.
    #[arg(long, value_name = "FILE")]
    json_out: Option<PathBuf>,
    /// The manifest `latchkey seed --manifest` wrote (verify-totp, signin-mfa).
    #[arg(long)]
    manifest: Option<PathBuf>,
    /// Scenarios to run (default: all): healthz, jwks, signin, refresh, verify-totp, signin-mfa, enroll-totp.
    scenarios: Vec<String>,
}

fn secs(text: &str) -> Duration {
    Duration::from_secs(latchkey_core::duration::parse_secs(text).unwrap_or(10))
}

/// A seeded user from the manifest.
struct Seeded {
    email: String,
    factor_id: String,
    secret: Vec<u8>,
    challenges: Vec<String>,
    /// The last TOTP step used: codes are single-use, so each use needs a newer step.
    last_step: AtomicI64,
}

impl Seeded {
    /// A code for a step not used yet and within the server's window (now or the next), if any.
    fn next_code(&self) -> Option<String> {
        let now = latchkey_core::clock::Clock::now_ms(&latchkey_core::clock::SystemClock);
        let current = totp::step_at(now);
        loop {
            let last = self.last_step.load(Ordering::SeqCst);
            // Never the previous step: a request that crosses a step boundary on its way
            // would arrive two steps late. The current and the next one are both safe.
            let step = (last + 1).max(current);
            if step > current + 1 {
                return None;
            }
            if self
                .last_step
                .compare_exchange(last, step, Ordering::SeqCst, Ordering::SeqCst)
                .is_ok()
            {
                return Some(totp::code_at_step(totp::Algorithm::Sha1, &self.secret, step));
            }
        }
    }
}

fn load_manifest(path: &PathBuf) -> Result<Vec<Arc<Seeded>>, String> {
    let text = std::fs::read_to_string(path).map_err(|e| format!("{}: {e}", path.display()))?;
    text.lines()
        .filter(|l| !l.trim().is_empty())
        .map(|l| {
            let v: Value = serde_json::from_str(l).map_err(|e| e.to_string())?;
            let s = |k: &str| v[k].as_str().unwrap_or_default().to_owned();
            Ok(Arc::new(Seeded {
                email: s("email"),
                factor_id: s("factor_id"),
                secret: totp::base32_decode(&s("totp_secret")).ok_or("bad secret in manifest")?,
                challenges: v["challenges"]
                    .as_array()
                    .map(|a| a.iter().filter_map(|c| c.as_str().map(str::to_owned)).collect())
                    .unwrap_or_default(),
                last_step: AtomicI64::new(i64::MIN / 2),
            }))
        })
        .collect()
}

/// What every worker of a scenario shares.
struct Ctx {
    http: reqwest::Client,
    /// Base URLs without a trailing slash; worker `w` uses `urls[w % urls.len()]`.
    urls: Vec<String>,
    key: Option<String>,
    /// Per worker: (user id, access token, refresh token).
    users: Vec<Mutex<(String, String, String)>>,
    /// verify-totp: pending challenges to complete, each with its user.
    queue: Mutex<VecDeque<(String, Arc<Seeded>)>>,
    /// signin-mfa: seeded users to sign in as, round robin.
    mfa_users: Vec<Arc<Seeded>>,
    next: AtomicUsize,
}

impl Ctx {
    /// The base URL worker `w` talks to.
    fn url(&self, w: usize) -> &str {
        self.urls
            .get(w % self.urls.len().max(1))
            .map_or("", String::as_str)
    }
}

async fn post(
    ctx: &Ctx,
    w: usize,
    path: &str,
    body: Value,
    bearer: Option<&str>,
) -> Result<(u16, Value), String> {
    let mut req = ctx.http.post(format!("{}{path}", ctx.url(w))).json(&body);
    if let Some(b) = bearer {
        req = req.bearer_auth(b);
    }
    let resp = req.send().await.map_err(|e| e.to_string())?;
    let status = resp.status().as_u16();
    let v = resp.json().await.unwrap_or(Value::Null);
    Ok((status, v))
}

fn expect(status: u16, want: u16, body: &Value) -> Result<(), String> {
    if status == want {
        Ok(())
    } else {
        Err(format!(
            "{status} {}",
            body["error"]["code"].as_str().unwrap_or("")
        ))
    }
}

/// One operation of a scenario, by worker `w`. `Ok(false)`: nothing left to do.
async fn once(name: &str, ctx: &Ctx, w: usize) -> Result<bool, String> {
    match name {
        "healthz" | "jwks" => {
            let path = if name == "healthz" {
                "/healthz"
            } else {
                "/.well-known/jwks.json"
            };
            let resp = ctx
                .http
                .get(format!("{}{path}", ctx.url(w)))
                .send()
                .await
                .map_err(|e| e.to_string())?;
            let status = resp.status().as_u16();
            let _ = resp.bytes().await;
            expect(status, 200, &Value::Null).map(|_| true)
        }
        "signin" => {
            let email = format!("bench-signin-{w}@bench.test");
            let (status, body) = post(
                ctx,
                w,
                "/v1/auth/signin",
                json!({ "email": email, "password": PASSWORD }),
                None,
            )
            .await?;
            expect(status, 200, &body).map(|_| true)
        }
        "refresh" => {
            let token = ctx.users[w].lock().map_err(|e| e.to_string())?.2.clone();
            let (status, body) = post(
                ctx,
                w,
                "/v1/auth/refresh",
                json!({ "refresh_token": token }),
                None,
            )
            .await?;
            expect(status, 200, &body)?;
            if let Ok(mut u) = ctx.users[w].lock() {
                u.2 = body["refresh_token"].as_str().unwrap_or_default().to_owned();
            }
            Ok(true)
        }
        "verify-totp" => loop {
            let item = ctx.queue.lock().map_err(|e| e.to_string())?.pop_front();
            let Some((challenge, user)) = item else {
                return Ok(false);
            };
            let Some(code) = user.next_code() else { continue };
            let body = json!({ "challenge_id": challenge, "factor_id": user.factor_id, "code": code });
            let (status, body) = post(ctx, w, "/v1/mfa/verify", body, None).await?;
            return expect(status, 200, &body).map(|_| true);
        },
        "signin-mfa" => {
            let n = ctx.mfa_users.len();
            for _ in 0..n {
                let user = ctx.mfa_users[ctx.next.fetch_add(1, Ordering::Relaxed) % n].clone();
                let (status, body) = post(
                    ctx,
                    w,
                    "/v1/auth/signin",
                    json!({ "email": user.email, "password": PASSWORD }),
                    None,
                )
                .await?;
                expect(status, 401, &body)?;
                // The code is chosen after the (slow) password step, so its step is still current.
                let Some(code) = user.next_code() else { continue };
                let challenge = body["error"]["challenge_id"].clone();
                let body = json!({ "challenge_id": challenge, "factor_id": user.factor_id, "code": code });
                let (status, body) = post(ctx, w, "/v1/mfa/verify", body, None).await?;
                return expect(status, 200, &body).map(|_| true);
            }
            Ok(false)
        }
        "enroll-totp" => {
            let key = ctx.key.as_deref().ok_or("enroll-totp needs --key")?;
            let user = ctx.users[w].lock().map_err(|e| e.to_string())?.0.clone();
            let (status, e) = post(
                ctx,
                w,
                &format!("/v1/users/{user}/mfa/factors"),
                json!({ "type": "totp" }),
                Some(key),
            )
            .await?;
            expect(status, 201, &e)?;
            let secret = totp::base32_decode(e["secret"].as_str().unwrap_or_default()).ok_or("no secret")?;
            let now = latchkey_core::clock::Clock::now_ms(&latchkey_core::clock::SystemClock);
            let code = totp::code_at_step(totp::Algorithm::Sha1, &secret, totp::step_at(now));
            let fid = e["factor_id"].as_str().unwrap_or_default();
            let (status, body) = post(
                ctx,
                w,
                &format!("/v1/users/{user}/mfa/factors/{fid}/confirm"),
                json!({ "code": code }),
                Some(key),
            )
            .await?;
            expect(status, 200, &body).map(|_| true)
        }
        other => Err(format!("unknown scenario {other}")),
    }
}

/// CPU time (ms) the process has used so far, from /proc (clock ticks of 10 ms).
fn cpu_ms(pid: u32) -> Option<f64> {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    let after = &stat[stat.rfind(')')? + 2..];
    let fields: Vec<&str> = after.split_whitespace().collect();
    let utime: f64 = fields.get(11)?.parse().ok()?;
    let stime: f64 = fields.get(12)?.parse().ok()?;
    Some((utime + stime) * 10.0)
}

/// Summed over the processes; `None` without any, or when one cannot be read.
fn cpu_ms_sum(pids: &[u32]) -> Option<f64> {
    if pids.is_empty() {
        return None;
    }
    pids.iter().map(|p| cpu_ms(*p)).sum()
}

fn rss_mb_sum(pids: &[u32]) -> Option<f64> {
    if pids.is_empty() {
        return None;
    }
    pids.iter().map(|p| rss_mb(*p)).sum()
}

fn rss_mb(pid: u32) -> Option<f64> {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).ok()?;
    let line = status.lines().find(|l| l.starts_with("VmRSS:"))?;
    let kb: f64 = line.split_whitespace().nth(1)?.parse().ok()?;
    Some(kb / 1024.0)
}

async fn setup(name: &str, args: &Args, ctx: &mut Ctx, manifest: &[Arc<Seeded>]) -> Result<(), String> {
    match name {
        "signin" | "refresh" | "enroll-totp" => {
            for w in 0..args.concurrency {
                let email = format!("bench-{name}-{w}@bench.test");
                let (status, body) = post(
                    ctx,
                    w,
                    "/v1/auth/signup",
                    json!({ "email": email, "password": PASSWORD }),
                    None,
                )
                .await?;
                if status == 409 {
                    let (status, b) = post(
                        ctx,
                        w,
                        "/v1/auth/signin",
                        json!({ "email": email, "password": PASSWORD }),
                        None,
                    )
                    .await?;
                    expect(status, 200, &b)?;
                    ctx.users.push(Mutex::new(tokens(&b)));
                } else {
                    expect(status, 201, &body)?;
                    ctx.users.push(Mutex::new(tokens(&body)));
                }
            }
        }
        "verify-totp" => {
            if manifest.is_empty() {
                return Err(
                    "verify-totp needs --manifest (latchkey seed --challenges N --manifest FILE)".into(),
                );
            }
            // Users of the first half; signin-mfa takes the second half, so the two never
            // compete for one factor's steps.
            let half = manifest.len().div_ceil(2);
            let mut queue = VecDeque::new();
            let most = manifest[..half]
                .iter()
                .map(|u| u.challenges.len())
                .max()
                .unwrap_or(0);
            for round in 0..most {
                for user in &manifest[..half] {
                    if let Some(c) = user.challenges.get(round) {
                        queue.push_back((c.clone(), user.clone()));
                    }
                }
            }
            ctx.queue = Mutex::new(queue);
        }
        "signin-mfa" => {
            if manifest.len() < 2 {
                return Err("signin-mfa needs --manifest".into());
            }
            let half = manifest.len().div_ceil(2);
            ctx.mfa_users = manifest[half..].to_vec();
        }
        _ => {}
    }
    Ok(())
}

fn tokens(body: &Value) -> (String, String, String) {
    let s = |v: &Value| v.as_str().unwrap_or_default().to_owned();
    (
        s(&body["user"]["id"]),
        s(&body["access_token"]),
        s(&body["refresh_token"]),
    )
}

fn percentile(sorted: &[u64], p: f64) -> f64 {
    if sorted.is_empty() {
        return 0.0;
    }
    let i = ((sorted.len() as f64 - 1.0) * p).round() as usize;
    sorted[i] as f64 / 1000.0
}

async fn run(name: &'static str, args: &Args, manifest: &[Arc<Seeded>]) -> Result<(), String> {
    let http = reqwest::Client::builder()
        .pool_max_idle_per_host(args.concurrency)
        .timeout(Duration::from_secs(30))
        .build()
        .map_err(|e| e.to_string())?;
    let mut ctx = Ctx {
        http,
        urls: args
            .url
            .iter()
            .map(|u| u.trim_end_matches('/').to_owned())
            .collect(),
        key: args.key.clone(),
        users: Vec::new(),
        queue: Mutex::new(VecDeque::new()),
        mfa_users: Vec::new(),
        next: AtomicUsize::new(0),
    };
    setup(name, args, &mut ctx, manifest).await?;
    let ctx = Arc::new(ctx);
    let (warmup, duration) = (secs(&args.warmup), secs(&args.duration));
    let started = Instant::now();
    let measure_from = started + warmup;
    let end = measure_from + duration;
    let latencies = Arc::new(Mutex::new(Vec::<u64>::new()));
    let errors = Arc::new(AtomicUsize::new(0));
    let first_error = Arc::new(Mutex::new(None::<String>));
    let exhausted = Arc::new(AtomicBool::new(false));
    let mut workers = Vec::new();
    for w in 0..args.concurrency {
        let (ctx, latencies, errors, first_error, exhausted) = (
            ctx.clone(),
            latencies.clone(),
            errors.clone(),
            first_error.clone(),
            exhausted.clone(),
        );
        workers.push(tokio::spawn(async move {
            let mut mine = Vec::new();
            while Instant::now() < end {
                let t = Instant::now();
                let result = once(name, &ctx, w).await;
                let measured = t >= measure_from;
                match result {
                    Ok(true) if measured => mine.push(t.elapsed().as_micros() as u64),
                    Ok(true) => {}
                    Ok(false) => {
                        exhausted.store(true, Ordering::Relaxed);
                        break;
                    }
                    Err(e) => {
                        if measured {
                            errors.fetch_add(1, Ordering::Relaxed);
                        }
                        if let Ok(mut f) = first_error.lock() {
                            f.get_or_insert(e);
                        }
                    }
                }
            }
            if let Ok(mut all) = latencies.lock() {
                all.extend(mine);
            }
        }));
    }
    // Progress, and the server's CPU and memory over the measured window.
    let pids = &args.server_pid;
    // Progress only on a terminal: logs get the summary lines alone.
    let progress = std::io::IsTerminal::is_terminal(&std::io::stderr());
    let idle_rss = rss_mb_sum(pids);
    let mut cpu_start = None;
    let mut gen_start = None;
    let mut peak_rss: f64 = 0.0;
    while Instant::now() < end && !workers.iter().all(|w| w.is_finished()) {
        tokio::time::sleep(Duration::from_millis(100)).await;
        if cpu_start.is_none() && Instant::now() >= measure_from {
            cpu_start = cpu_ms_sum(pids);
            gen_start = cpu_ms(std::process::id());
        }
        if let Some(r) = rss_mb_sum(pids) {
            peak_rss = peak_rss.max(r);
        }
        let elapsed = started.elapsed().as_secs_f64();
        if progress && ((elapsed * 10.0).round() as u64).is_multiple_of(10) {
            eprint!(
                "\r{name}: {elapsed:>5.1}s  errors {}   ",
                errors.load(Ordering::Relaxed)
            );
        }
    }
    for w in workers {
        let _ = w.await;
    }
    if progress {
        eprint!("\r{:60}\r", "");
    }
    let measured_secs = (Instant::now().min(end) - measure_from.min(Instant::now()))
        .as_secs_f64()
        .max(0.001);
    let cpu_end = cpu_ms_sum(pids);
    let gen_end = cpu_ms(std::process::id());
    let mut lat = latencies.lock().map_err(|e| e.to_string())?.clone();
    lat.sort_unstable();
    let n = lat.len();
    let cpu_ms_per_req = match (cpu_start, cpu_end) {
        (Some(a), Some(b)) if n > 0 => Some((b - a) / n as f64),
        _ => None,
    };
    let cpu_per_req = cpu_ms_per_req.map_or_else(|| "-".into(), |c| format!("{c:.3}ms"));
    // The load generator's own CPU per request: on a shared machine, what it takes is not
    // available to the server.
    let gen_ms_per_req = match (gen_start, gen_end) {
        (Some(a), Some(b)) if n > 0 => Some((b - a) / n as f64),
        _ => None,
    };
    let gen_per_req = gen_ms_per_req.map_or_else(|| "-".into(), |c| format!("{c:.3}ms"));
    let rss = match idle_rss {
        Some(idle) => format!("{idle:.1}MB idle, {peak_rss:.1}MB peak"),
        None => "-".into(),
    };
    let rps = n as f64 / measured_secs;
    let (p50, p90, p99, max) = (
        percentile(&lat, 0.50),
        percentile(&lat, 0.90),
        percentile(&lat, 0.99),
        percentile(&lat, 1.0),
    );
    let errors = errors.load(Ordering::Relaxed);
    let exhausted = exhausted.load(Ordering::Relaxed);
    println!(
        "{name:<12} conc={:<3} {rps:>9.1} req/s  p50={p50:.2}ms p90={p90:.2}ms p99={p99:.2}ms max={max:.2}ms  errors={errors}  cpu/req={cpu_per_req}  gen/req={gen_per_req}  rss={rss}{}",
        args.concurrency,
        if exhausted { "  (ran out of seeded work early)" } else { "" },
    );
    if let Some(path) = &args.json_out {
        let round = |x: f64, places: i32| {
            let f = 10f64.powi(places);
            (x * f).round() / f
        };
        let record = json!({
            "scenario": name,
            "concurrency": args.concurrency,
            "servers": args.url.len(),
            "requests": n,
            "measured_s": round(measured_secs, 3),
            "rps": round(rps, 1),
            "p50_ms": round(p50, 3),
            "p90_ms": round(p90, 3),
            "p99_ms": round(p99, 3),
            "max_ms": round(max, 3),
            "errors": errors,
            "cpu_ms_per_req": cpu_ms_per_req.map(|c| round(c, 4)),
            "generator_cpu_ms_per_req": gen_ms_per_req.map(|c| round(c, 4)),
            "rss_idle_mb": idle_rss.map(|r| round(r, 1)),
            "rss_peak_mb": idle_rss.map(|_| round(peak_rss, 1)),
            "exhausted": exhausted,
        });
        append_line(path, &record.to_string())?;
    }
    if let Ok(Some(e)) = first_error.lock().map(|f| f.clone()) {
        eprintln!("{name}: first error: {e}");
    }
    Ok(())
}

fn append_line(path: &PathBuf, line: &str) -> Result<(), String> {
    use std::io::Write;
    let mut file = std::fs::OpenOptions::new()
        .create(true)
        .append(true)
        .open(path)
        .map_err(|e| format!("{}: {e}", path.display()))?;
    writeln!(file, "{line}").map_err(|e| format!("{}: {e}", path.display()))
}

/// What one Argon2id hash costs here with the server's default parameters: the floor under
/// sign-in, so the server's own overhead shows as a ratio.
fn hash_baseline() -> String {
    let hasher = match latchkey_core::password::PasswordHasher::new(
        Default::default(),
        &latchkey_core::rand::OsRandom,
    ) {
        Ok(h) => h,
        Err(e) => return format!("argon2 unavailable: {e}"),
    };
    let n = 10;
    let t = Instant::now();
    for _ in 0..n {
        let _ = hasher.verify(PASSWORD, None);
    }
    let alone = t.elapsed().as_secs_f64() * 1000.0 / n as f64;
    // The server hashes on `hash_concurrency` threads (one per core here): time two at once
    // as well, since Argon2 with 19 MiB is bound by memory bandwidth.
    let t = Instant::now();
    std::thread::scope(|scope| {
        for _ in 0..2 {
            scope.spawn(|| {
                for _ in 0..n {
                    let _ = hasher.verify(PASSWORD, None);
                }
            });
        }
    });
    let paired = t.elapsed().as_secs_f64() * 1000.0 / n as f64;
    format!(
        "argon2id m=19456 t=2 p=1 alone: {alone:.1} ms per hash ({:.0}/s on one core); two at once: {paired:.1} ms each",
        1000.0 / alone
    )
}

#[tokio::main]
async fn main() -> std::process::ExitCode {
    let args = Args::parse();
    let manifest = match &args.manifest {
        Some(p) => match load_manifest(p) {
            Ok(m) => m,
            Err(e) => {
                eprintln!("latchkey-bench: {e}");
                return std::process::ExitCode::from(2);
            }
        },
        None => Vec::new(),
    };
    let names: Vec<&'static str> = if args.scenarios.is_empty() {
        ALL.to_vec()
    } else {
        let mut out = Vec::new();
        for s in &args.scenarios {
            match ALL.iter().find(|a| **a == s.as_str()) {
                Some(a) => out.push(*a),
                None => {
                    eprintln!("latchkey-bench: unknown scenario {s}; known: {}", ALL.join(", "));
                    return std::process::ExitCode::from(2);
                }
            }
        }
        out
    };
    if args.url.len() > 1 {
        println!(
            "# {} servers, workers spread round-robin: {}",
            args.url.len(),
            args.url.join(" ")
        );
    }
    if names.contains(&"signin") {
        println!("# {}", hash_baseline());
    }
    let mut failed = false;
    for name in names {
        if let Err(e) = run(name, &args, &manifest).await {
            eprintln!("latchkey-bench: {name}: {e}");
            failed = true;
        }
    }
    if failed {
        std::process::ExitCode::FAILURE
    } else {
        std::process::ExitCode::SUCCESS
    }
}
