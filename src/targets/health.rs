//! Probing what docker would use: the names become targets, the probe's
//! reports come back in the same order, and what only the stores know is
//! added (drift, an unreadable record, a target that could not be built).

use super::{Entry, Targets};
use crate::conn::Target;
use crate::probe::{Code, Finding, Report};

/// Names resolved for a probe round.
pub struct Checks {
    entries: Vec<Entry>,
    /// One per entry; `None` where no target could be built.
    targets: Vec<Result<Target, String>>,
    now: i64,
}

impl Targets {
    /// Everything (`names` empty) or the named entries, ready to probe.
    pub fn checks(&self, names: &[String]) -> anyhow::Result<Checks> {
        let (entries, targets) = self
            .resolve(names)?
            .into_iter()
            .map(|(e, t)| (e, t.map_err(|err| format!("{err:#}"))))
            .unzip();
        Ok(Checks {
            entries,
            targets,
            now: self.now,
        })
    }

    /// Probe what docker would use for `names` (all: empty), in order, on a
    /// runtime of its own: `check`'s round, for any command that needs one.
    pub fn probe(
        &self,
        names: &[String],
        opts: &crate::probe::Options,
        progress: impl Fn(usize, usize) + Send + Sync + 'static,
    ) -> anyhow::Result<Vec<(Target, Report)>> {
        let checks = self.checks(names)?;
        let rt = crate::probe::runtime()?;
        let reports = rt.block_on(crate::probe::run_all(
            checks.probe_targets(),
            opts,
            progress,
        ));
        // Do not wait for a getaddrinfo the deadline already gave up on.
        rt.shutdown_background();
        Ok(checks.finish(reports))
    }
}

impl Checks {
    /// The targets to hand to the probe (those that could be built).
    pub fn probe_targets(&self) -> Vec<Target> {
        self.targets
            .iter()
            .filter_map(|t| t.as_ref().ok().cloned())
            .collect()
    }

    /// Put the probe's reports (for `probe_targets`, in order) back with
    /// their entries; returns (target, report) per entry. An entry without
    /// a target gets a stand-in target (name and endpoint only).
    pub fn finish(self, probed: Vec<Report>) -> Vec<(Target, Report)> {
        let mut probed = probed.into_iter();
        let now = self.now;
        self.entries
            .into_iter()
            .zip(self.targets)
            .map(|(e, t)| {
                let (target, mut r) = match t {
                    Ok(t) => {
                        let r = probed.next().expect("one report per target");
                        (t, r)
                    }
                    Err(msg) => (
                        Target {
                            name: e.name.clone(),
                            host: e.endpoint.clone(),
                            tls: false,
                            skip_verify: false,
                            ca_pem: None,
                            cert_pem: None,
                            key_pem: None,
                        },
                        Report::unprobed(
                            &e.name,
                            &e.endpoint,
                            msg,
                            format!(
                                "re-import it with `dctx add {} … --replace`, or remove it with `dctx rm {}`",
                                e.name, e.name
                            ),
                        ),
                    ),
                };
                // One finding per code: every drift of the entry goes in it.
                if !e.drift.is_empty() {
                    let mut fixes: Vec<String> = Vec::new();
                    for d in &e.drift {
                        let f = d.fix(&e.name);
                        if !fixes.contains(&f) {
                            fixes.push(f);
                        }
                    }
                    let messages = super::Drift::messages(&e.drift);
                    r.add_findings([Finding::warning(
                        Code::Drift,
                        messages.join("; "),
                        fixes.join("; "),
                    )]);
                }
                if let Some(p) = &e.profile {
                    r.add_findings(renewal_findings(p, now));
                }
                if let Some(err) = e.error.as_ref().filter(|_| e.context) {
                    // docker's context was probed; dctx's own record is broken.
                    r.add_findings([Finding::warning(
                        Code::InvalidProfile,
                        format!("dctx's record is unreadable ({err}); docker's context was probed"),
                        format!(
                            "`dctx adopt {}` rewrites the record from the Docker context; `dctx rm {}` removes both",
                            e.name, e.name
                        ),
                    )]);
                }
                (target, r)
            })
            .collect()
    }
}

/// `renewal-due` / `renewal-failed` for `check` and `doctor`, from the record.
fn renewal_findings(p: &crate::store::Profile, now: i64) -> Vec<Finding> {
    let (Some(o), Some(cert)) = (&p.origin, &p.cert) else {
        return Vec::new();
    };
    let name = &p.name;
    let mut out = Vec::new();
    let r = &o.renewal;
    if let Some(why) = &r.last_error {
        out.push(Finding::warning(
            Code::RenewalFailed,
            format!(
                "the last renewal ({}) failed: {why}",
                r.last_attempt
                    .map(crate::pki::inspect::rfc3339)
                    .unwrap_or_else(|| "at an unknown time".into())
            ),
            format!("fix the cause above, then `dctx renew {name}`"),
        ));
    }
    let due = r.due_at(cert.not_after, crate::store::origin::DEFAULT_BEFORE);
    if now >= due && now < cert.not_after {
        out.push(Finding::warning(
            Code::RenewalDue,
            format!(
                "the client certificate is past its renewal point ({}, 2/3 of its lifetime) and expires {}",
                crate::pki::inspect::rfc3339(due),
                crate::pki::inspect::rfc3339(cert.not_after)
            ),
            format!(
                "`dctx renew {name}`, or keep `dctx renew --watch` running (a systemd user unit is in the README)"
            ),
        ));
    }
    out
}
