//! `dctx doctor`.

use crate::cli::DoctorArgs;
use crate::environment::Env;
use crate::exit;
use crate::output;
use crate::pki::lint;
use crate::probe::{self, Status};

/// Which client families would refuse the chain the daemon served.
fn compatibility(target: &probe::Target, report: &probe::Report) -> Vec<lint::LintFinding> {
    let host = match probe::Endpoint::parse(&target.host, target.tls) {
        Ok(probe::Endpoint::Tcp { host, .. }) => Some(host),
        _ => None,
    };
    let roots = target
        .ca_pem
        .as_deref()
        .map(lint::pem_certs)
        .unwrap_or_default();
    lint::lint(&lint::Material {
        chain: &report.server_chain_der,
        roots: &roots,
        host: host.as_deref(),
        server_leaf: true,
    })
}

pub fn run(args: DoctorArgs, env: &Env) -> anyhow::Result<u8> {
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
    if args.json {
        let mut v: serde_json::Value = serde_json::from_str(&output::probe_json::doctor(&report))?;
        if let Some(o) = v.as_object_mut() {
            o.insert("compatibility".into(), serde_json::to_value(&compat)?);
        }
        crate::cmd::print(&output::json(&v)?)?;
    } else {
        output::sanitize_report(&mut report);
        let width = output::width(env, false);
        let mut text = output::doctor::render(&report, width, output::styled(env));
        text.push_str(&output::doctor::wrap_block(
            &output::sanitize_lines(&lint::render(
                "client compatibility of the served chain:",
                &compat,
            )),
            width,
        ));
        crate::cmd::print(&text)?;
    }
    Ok(if report.status == Status::Fail {
        exit::UNHEALTHY
    } else {
        exit::OK
    })
}
