//! Every environment variable dctx reads or sets, named once (uv's
//! `env_vars.rs` is the model). Reading happens in one place,
//! `Env::from_process`; the rest of the code uses these names to set or
//! clear variables for docker, shells and sessions.

macro_rules! env_vars {
    ($($(#[$doc:meta])* $name:ident;)*) => {
        $($(#[$doc])* pub const $name: &str = stringify!($name);)*
        /// Every name above (for the docs/reference.md test).
        pub const ALL: &[&str] = &[$($name),*];
    };
}

env_vars! {
    /// dctx's store, overriding `<config dir>/dctx`.
    DCTX_HOME;
    /// Set by `dctx env` / `dctx shell`: the profile they selected (for
    /// prompts; `current` believes it only if the DOCKER_* variables agree).
    DCTX_PROFILE;
    /// Set inside `dctx shell` to the profile's name; a nested shell refuses.
    DCTX_SHELL;
    /// The Docker CLI's config dir (default `~/.docker`).
    DOCKER_CONFIG;
    /// The daemon docker talks to; beats `DOCKER_CONTEXT`.
    DOCKER_HOST;
    /// The Docker context in effect; beats `currentContext` in config.json.
    DOCKER_CONTEXT;
    /// TLS with verification, for any non-empty value.
    DOCKER_TLS_VERIFY;
    /// TLS without verification (when `DOCKER_TLS_VERIFY` is unset).
    DOCKER_TLS;
    /// The directory with `ca.pem`, `cert.pem` and `key.pem`.
    DOCKER_CERT_PATH;
    /// The login shell: `dctx env`'s default syntax, `dctx shell`'s program.
    SHELL;
    /// zsh's start-file dir: `dctx shell` points it at its own, then back.
    ZDOTDIR;
    /// Where `dctx exec` / `dctx shell` keep their private material dir.
    XDG_RUNTIME_DIR;
    /// Any value: no colour unless `--color always`.
    NO_COLOR;
    /// `dumb`: no colour unless `--color always`.
    TERM;
    /// Table width when stdout's terminal does not say.
    COLUMNS;
    /// `dctx pki crl --vault`: the CA bundle to trust for an https:// address.
    VAULT_CACERT;
    /// `dctx enroll`: the OpenBao server (`--vault` wins; else `VAULT_ADDR`).
    BAO_ADDR;
    /// `dctx enroll`: the Vault server, when `BAO_ADDR` is unset.
    VAULT_ADDR;
    /// `dctx enroll` / `renew`: the token (else `VAULT_TOKEN`, else ~/.vault-token).
    BAO_TOKEN;
    /// `dctx enroll` / `renew`: the token, when `BAO_TOKEN` is unset.
    VAULT_TOKEN;
    /// `dctx enroll`: the server's CA (else `VAULT_CACERT`).
    BAO_CACERT;
    /// `dctx enroll`: the namespace sent as X-Vault-Namespace (else `VAULT_NAMESPACE`).
    BAO_NAMESPACE;
    /// `dctx enroll`: the namespace, when `BAO_NAMESPACE` is unset.
    VAULT_NAMESPACE;
    /// Set by the shell completion scripts: answer a completion and exit.
    COMPLETE;
}

#[cfg(test)]
mod tests {
    /// Each name is documented in the reference's Environment section
    /// (docs/reference.md; the README links to it).
    #[test]
    fn every_variable_is_in_the_readme() {
        let readme = include_str!("../docs/reference.md");
        let start = readme
            .find("\n## Environment\n")
            .expect("docs/reference.md has an Environment section");
        let section = &readme[start + 1..];
        let section = &section[..section[3..].find("\n## ").map_or(section.len(), |e| e + 3)];
        let missing: Vec<&str> = super::ALL
            .iter()
            .copied()
            .filter(|v| {
                !section.contains(&format!("`{v}`")) && !section.contains(&format!("`{v}="))
            })
            .collect();
        assert!(
            missing.is_empty(),
            "not in docs/reference.md's Environment: {missing:?}"
        );
    }
}
