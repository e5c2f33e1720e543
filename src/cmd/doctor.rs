//! `dctx doctor`.

use crate::cli::DoctorArgs;
use crate::conn::{Endpoint, Target};
use crate::environment::Env;
use crate::exit;
use crate::output;
use crate::pki::lint;
use crate::probe::{self, Status};

/// Which client families would refuse the chain the daemon served.
fn compatibility(target: &Target, report: &probe::Report) -> Vec<lint::LintFinding> {
    let host = match target.endpoint() {
        Ok((Endpoint::Tcp { host, .. }, _)) => Some(host),
        _ => None,
    };
    let roots = target
        .ca_pem
        .as_deref()
        .map(lint::pem_certs)
        .unwrap_or_default();
    lint::lint(&lint::Input {
        chain: &report.server_chain_der,
        roots: &roots,
        host: host.as_deref(),
        server_leaf: true,
    })
}

/// The diagnosis finding that already names a note's cause (with its fix):
/// the text leaves such a note out, one root cause being one finding.
fn covered_by(n: &lint::LintFinding, report: &probe::Report) -> Option<probe::Code> {
    use lint::LintCode as L;
    let names = matches!(
        n.code,
        L::CnOnly | L::IpNotInSans | L::NameNotInSans | L::V1Certificate
    );
    [probe::Code::CnOnly, probe::Code::NameMismatch]
        .into_iter()
        .find(|c| names && report.has(*c))
}

/// Notes worth a line: a real client refuses it and nothing above says so.
fn shown(n: &lint::LintFinding, report: &probe::Report) -> bool {
    !n.clients.is_empty() && covered_by(n, report).is_none()
}

pub fn run(args: DoctorArgs, env: &Env) -> anyhow::Result<crate::exit::Exit> {
    let opts = probe::Options {
        timeout: args.timeout,
        concurrency: 1,
        ..probe::Options::new(args.timeout, env.now)
    };
    let checks = super::targets(env)?.checks(std::slice::from_ref(&args.name))?;
    let rt = probe::runtime()?;
    let reports = rt.block_on(probe::run_all(checks.probe_targets(), &opts, |_, _| {}));
    rt.shutdown_background();
    // checks() fails for an unknown name, so there is exactly one.
    let (target, mut report) = checks.finish(reports).remove(0);
    let compat = compatibility(&target, &report);
    revocation(&target, &mut report, &args, env);
    if args.json {
        let mut v: serde_json::Value = serde_json::from_str(&output::probe_json::doctor(&report))?;
        if let Some(o) = v.as_object_mut() {
            let mut notes = Vec::new();
            for n in &compat {
                let mut v = serde_json::to_value(n)?;
                if let (Some(c), Some(o)) = (covered_by(n, &report), v.as_object_mut()) {
                    o.insert("covered_by".into(), c.as_str().into());
                }
                notes.push(v);
            }
            o.insert("compatibility".into(), notes.into());
        }
        crate::cmd::print(&output::json(&v)?)?;
    } else {
        output::sanitize_report(&mut report);
        let width = output::width(env, false);
        let notes: Vec<lint::LintFinding> = compat
            .iter()
            .filter(|n| shown(n, &report))
            .cloned()
            .collect();
        let mut text =
            output::doctor::render_with_notes(&report, notes.len(), width, output::styled(env));
        text.push_str(&output::doctor::wrap_block(
            &output::sanitize_lines(&lint::render(
                "client compatibility of the served chain:",
                &notes,
            )),
            width,
        ));
        crate::cmd::print(&text)?;
    }
    Ok(exit::Exit::health(report.status == Status::Fail))
}

/// Is the client certificate revoked? Looked up when the probe failed or
/// `--crl` was given (the distribution points cost a fetch).
fn revocation(target: &Target, report: &mut probe::Report, args: &DoctorArgs, env: &Env) {
    use crate::pki::inspect::certs_from_pem;
    let Some(cert) = target
        .cert_pem
        .as_deref()
        .and_then(|p| certs_from_pem(p).into_iter().next())
    else {
        return;
    };
    if report.status != Status::Fail && args.crl.is_none() {
        return;
    }
    let cas = target
        .ca_pem
        .as_deref()
        .map(certs_from_pem)
        .unwrap_or_default();
    let pki_dir = crate::store::Store::from_env(env)
        .ok()
        .map(|s| s.root.join("pki"));
    let Some(e) = crate::pki::crl::evidence(
        &cert,
        &cas,
        args.crl.as_deref(),
        pki_dir.as_deref(),
        args.timeout,
    ) else {
        return;
    };
    let (host, port) = match target.endpoint() {
        Ok((Endpoint::Tcp { host, port, .. }, _)) => (host, port.unwrap_or_default()),
        _ => (String::new(), 0),
    };
    let ctx = probe::diagnose::Ctx {
        name: &target.name,
        host: &host,
        port,
        now: env.now,
        skip_verify: target.skip_verify,
        timeout_secs: args.timeout.as_secs_f64(),
        warn_days: i64::from(crate::text::expiry::DEFAULT_WARN_DAYS),
    };
    if let Some(f) = probe::diagnose::crl_says_revoked(&cert, &e.crl, &e.source, e.verified, &ctx) {
        probe::diagnose::merge_revocation(report, f);
    }
}
