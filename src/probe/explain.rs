//! `dctx explain CODE`: for every finding code, what it means, how the
//! probe detects it, the fix, and what it looks like from the docker CLI
//! (the words users search for). Keyed by `Code`: a test holds this table
//! to the enum in finding.rs, so a new code cannot ship unexplained.

use serde::Serialize;

use super::finding::{Code, Severity};

#[derive(Debug, Serialize)]
pub struct Explanation {
    pub code: Code,
    /// The severity the probe gives it (skip-verify profiles demote
    /// server-certificate errors to info; see `meaning`).
    pub severity: Severity,
    /// One line, as in the findings table.
    pub summary: &'static str,
    pub meaning: &'static str,
    pub detection: &'static str,
    pub fix: &'static str,
    /// What the user sees: the docker CLI's error and/or dctx's line.
    pub example: &'static str,
}

/// Look a code up by its name (`unknown-ca`).
pub fn lookup(name: &str) -> Option<&'static Explanation> {
    Code::parse(name).and_then(of)
}

/// The explanation of `code` (every code has one: see the tests).
pub fn of(code: Code) -> Option<&'static Explanation> {
    ALL.iter().find(|e| e.code == code)
}

use Severity::{Error as E, Warning as W};

macro_rules! explain {
    ($code:ident, $sev:expr, $summary:expr, $meaning:expr, $detection:expr, $fix:expr, $example:expr $(,)?) => {
        Explanation {
            code: Code::$code,
            severity: $sev,
            summary: $summary,
            meaning: $meaning,
            detection: $detection,
            fix: $fix,
            example: $example,
        }
    };
}

/// Every code, in the order a probe meets them (profile, network, TLS,
/// certificates, API, ssh).
pub static ALL: &[Explanation] = &[
    explain!(
        InvalidProfile,
        E,
        "the profile's endpoint, CA, certificate or key cannot be used",
        "dctx could not even start a probe: the endpoint URL does not parse, or the CA, client certificate or key file is missing or not valid PEM/DER. When only dctx's own record is unreadable but Docker's context is fine, docker's context is probed and this is a warning.",
        "Before any network I/O the probe loads the profile: it parses the host URL and reads and parses every TLS file (or the keyring entry). A failure there ends the probe with every step skipped.",
        "Re-import the material: `dctx add NAME --ca ca.pem --cert cert.pem --key key.pem --replace` (or `--bundle`). If only dctx's record is broken, `dctx adopt NAME` rewrites it from the Docker context; `dctx rm NAME` removes both.",
        "$ dctx check\nNAME   ENDPOINT              STATUS  …  FINDING\nprod   tcp://prod:2376       fail    …  invalid-profile",
    ),
    explain!(
        UnsupportedEndpoint,
        W,
        "`npipe://`, `fd://` (or another scheme) endpoints are not probed",
        "The context's endpoint uses a transport dctx does not speak, so nothing was checked. It is not necessarily broken.",
        "The endpoint's scheme is not tcp://, https://, http://, unix:// or ssh://.",
        "Check it with the docker CLI itself: `docker --context NAME version`.",
        "$ dctx doctor win\n  ! profile  npipe:// endpoints are not probed by dctx (only tcp://, https://, http:// and unix://)",
    ),
    explain!(
        DnsFailure,
        E,
        "the host name does not resolve",
        "The name in the endpoint (tcp://NAME:2376 or ssh://NAME) has no address: a typo, a name only your VPN's DNS knows, or a missing /etc/hosts entry.",
        "The probe resolves the host with the system resolver before connecting; for ssh:// it reads ssh's own \"Could not resolve hostname\".",
        "Check the spelling and `getent hosts NAME`; add the name to /etc/hosts or DNS, or switch the endpoint (`dctx set-host NAME tcp://IP:2376`) to an address the server certificate holds.",
        "$ docker --context prod ps\nerror during connect: … dial tcp: lookup prod.example.com: no such host",
    ),
    explain!(
        ConnectionRefused,
        E,
        "nothing listens on the port (or no unix socket at the path)",
        "The host answered, but no daemon listens there: dockerd is stopped, listens only on its unix socket, or on another port; for unix:// the socket file is missing or stale.",
        "The TCP connect gets a reset (ECONNREFUSED) from every address of the host; for unix:// the socket does not exist or refuses; for ssh:// ssh reports \"Connection refused\".",
        "Start dockerd on the address the profile dials, with TLS and client verification: `dockerd -H tcp://ADDRESS:PORT --tlsverify --tlscacert=ca.pem --tlscert=server-cert.pem --tlskey=server-key.pem` in its certificate directory (or \"hosts\" and \"tls*\" in daemon.json, which `dctx pki daemon-config` renders); never wider (0.0.0.0) or weaker (no TLS) than the profile needs. Check the port in the endpoint and any firewall that rejects it.",
        "$ docker --context prod ps\nCannot connect to the Docker daemon at tcp://prod.example.com:2376. Is the docker daemon running?",
    ),
    explain!(
        ConnectFailed,
        E,
        "TCP connect failed otherwise (unreachable, permission denied on a socket)",
        "The connection could not be opened for a reason other than a refusal: no route to the host, network unreachable, or (unix://) permission denied on the socket.",
        "The connect system call fails with an error that is neither ECONNREFUSED nor a timeout; the error is quoted.",
        "For a network error, check routing, firewalls and the VPN. For a unix socket, add your user to the docker group (`sudo usermod -aG docker $USER`, then log in again) — docker group members are root-equivalent.",
        "$ docker ps\npermission denied while trying to connect to the Docker daemon socket at unix:///var/run/docker.sock",
    ),
    explain!(
        Timeout,
        E,
        "no answer within `--timeout`; `phase` says where: `resolve`, `connect`, `handshake`, `ssh-handshake`, `response`",
        "The daemon did not answer within the deadline. The phase tells where it stalled: a silent firewall drops packets (connect), something that is not a TLS dockerd holds the port (handshake), or the daemon accepts connections but hangs (response).",
        "Every probe runs under one hard deadline (`--timeout`, default 5 s) covering resolution, connect, handshake and the API answers; the phase it was in when the deadline hit is recorded (`\"phase\"` in JSON).",
        "connect: check the host is up and the firewall allows the port (`nc -vz HOST PORT`). handshake: check what listens there (`ss -ltnp` on the host). response: look at `journalctl -u docker`, or raise `--timeout`.",
        "$ docker --context prod ps\nerror during connect: … dial tcp 10.0.0.5:2376: i/o timeout",
    ),
    explain!(
        PlainHttp,
        E,
        "TLS profile, but the daemon answers in plain HTTP",
        "The profile expects TLS, but the port serves the Docker API without TLS: anyone who reaches it is root on the host, and docker's TLS client cannot talk to it.",
        "The first bytes the peer sends back to our TLS ClientHello are an HTTP response (`HTTP/1.x`), not a TLS record.",
        "Start dockerd with `--tlsverify --tlscacert=ca.pem --tlscert=server-cert.pem --tlskey=server-key.pem` (conventionally on port 2376), or check you have the right port. `dctx pki daemon-config` renders the daemon.json.",
        "$ docker --context prod ps\nerror during connect: … http: server gave HTTP response to HTTPS client",
    ),
    explain!(
        TlsExpected,
        E,
        "plain `tcp://` profile, but the peer speaks TLS",
        "The profile talks plain HTTP, but the daemon requires TLS: the profile was imported without its certificates.",
        "The plain-HTTP request gets a TLS record or dockerd's \"Client sent an HTTP request to an HTTPS server\" back.",
        "Import the TLS material for it: `dctx add NAME --bundle certs.tar --host tcp://HOST:2376 --replace`.",
        "$ docker --context prod ps\nError response from daemon: Client sent an HTTP request to an HTTPS server.",
    ),
    explain!(
        TlsError,
        E,
        "the TLS handshake failed otherwise (the peer does not speak TLS, no common version, an X.509 v1 server certificate…)",
        "The TLS handshake failed for a reason none of the more specific codes explains: the peer is not TLS at all, it shares no protocol version or cipher with dctx (TLS 1.2 and 1.3), it sent an alert, or its certificate is an X.509 v1 certificate that modern clients refuse.",
        "The handshake error is classified; whatever is not a certificate, client-certificate or plain-HTTP problem lands here, with the peer's first bytes or the alert quoted.",
        "Check that the port is dockerd's TLS port and read the daemon's log. For a v1 certificate, reissue it with extensions (`dctx pki server --host HOST --out DIR`).",
        "$ docker --context prod ps\nerror during connect: … remote error: tls: protocol version not supported",
    ),
    explain!(
        UnknownCa,
        E,
        "the server certificate is not signed by the profile's CA",
        "The daemon presents a certificate that the profile's CA did not issue: the bundle's CA file is the wrong one (often the client CA instead of the server CA), or the daemon's certificate was reissued from another CA.",
        "The handshake's verifier runs the real webpki verification against the profile's CA and records the verdict; doctor prints the server's issuer and authority key identifier next to the CA's subject and subject key identifier, so you can see which CA is needed.",
        "Import the CA whose subject and key identifier match the server's issuer (`dctx add NAME --ca right-ca.pem … --replace`), or reissue the server certificate from your CA (`dctx pki server --host HOST --out DIR`).",
        "$ docker --context prod ps\nerror during connect: … tls: failed to verify certificate: x509: certificate signed by unknown authority",
    ),
    explain!(
        NameMismatch,
        E,
        "the server certificate does not hold the dialled name (lists the names it holds; says when an IP was dialled and there is no IP SAN)",
        "You dial a name (or IP address) the server certificate was not issued for. Clients check the dialled name against the certificate's subjectAltNames; an IP address needs an IP SAN.",
        "The dialled host is compared with the leaf certificate's DNS and IP subjectAltNames (wildcards as webpki does); the finding lists the names the certificate does hold.",
        "Dial one of the names it holds (`dctx set-host NAME tcp://NAME-IT-HOLDS:2376`), or reissue the server certificate with this name: `dctx pki server --host HOST --out DIR` (the fix shows the openssl command too).",
        "$ docker --context prod ps\nerror during connect: … x509: certificate is valid for prod.example.com, not 10.0.0.5\n(or: x509: cannot validate certificate for 10.0.0.5 because it doesn't contain any IP SANs)",
    ),
    explain!(
        CnOnly,
        E,
        "the server certificate has no subjectAltName at all, only a CN (ignored by modern clients)",
        "The certificate names the host only in its Common Name. Go (the docker CLI) ignores the CN since 1.15, so no name matches, although old tutorials produce exactly this.",
        "The leaf certificate has no subjectAltName extension.",
        "Reissue the server certificate with a subjectAltName: `dctx pki server --host HOST --out DIR`, or with openssl and `-extfile <(printf 'subjectAltName=DNS:HOST')`.",
        "$ docker --context prod ps\nerror during connect: … x509: certificate relies on legacy Common Name field, use SANs instead",
    ),
    explain!(
        ServerCertExpired,
        E,
        "the server certificate has expired",
        "The daemon's certificate is past its notAfter date: every client refuses it.",
        "The leaf's validity dates are judged against this machine's clock.",
        "Reissue the server certificate (`dctx pki server --host HOST --out DIR`) and restart dockerd with it. If the date looks wrong, check this machine's clock.",
        "$ docker --context prod ps\nerror during connect: … x509: certificate has expired or is not yet valid",
    ),
    explain!(
        ServerCertNotYetValid,
        E,
        "notBefore is in the future: check for clock skew",
        "The daemon's certificate is not valid yet: usually this machine's clock (or the issuing machine's) is wrong.",
        "The leaf's notBefore is later than this machine's clock.",
        "Check both clocks (`timedatectl`, NTP); reissue the certificate only if the date in it is really wrong.",
        "$ docker --context prod ps\nerror during connect: … x509: certificate has expired or is not yet valid",
    ),
    explain!(
        ServerCertExpiring,
        W,
        "less than `--warn-days` (30) days left",
        "The daemon's certificate still works but expires soon.",
        "The leaf's notAfter is within `--warn-days` (default 30) of this machine's clock.",
        "Reissue it before it expires: `dctx pki server --host HOST --out DIR`, then restart dockerd.",
        "$ dctx check\nNAME   …  STATUS  …  SERVER CERT  …  FINDING\nprod   …  warn    …  12d          …  server-cert-expiring",
    ),
    explain!(
        ServerCertBadUsage,
        E,
        "no `serverAuth` extended key usage",
        "The server certificate carries an extended key usage without serverAuth (often a client certificate installed on the daemon by mistake): clients refuse it for a server.",
        "The leaf's extendedKeyUsage extension exists and does not list serverAuth.",
        "Reissue it with `extendedKeyUsage=serverAuth` (`dctx pki server --host HOST --out DIR` does), or install the right file as dockerd's --tlscert.",
        "$ docker --context prod ps\nerror during connect: … x509: certificate specifies an incompatible key usage",
    ),
    explain!(
        ClientCertMissing,
        E,
        "the server requires a client certificate and the profile has none",
        "The daemon runs with --tlsverify and wants a client certificate; the profile has only a CA (or nothing).",
        "The server's CertificateRequest arrives, the profile has no certificate to send, and the daemon refuses us.",
        "Import a client certificate and key issued by the daemon's CA: `dctx add NAME --cert cert.pem --key key.pem --replace` (or `dctx pki client NAME --out bundle.tar` if you run the CA).",
        "$ docker --context prod ps\nerror during connect: … remote error: tls: certificate required",
    ),
    explain!(
        ClientCertRejected,
        E,
        "the server refused our client certificate (TLS alert `bad_certificate`, `unknown_ca`, `certificate_expired`, `certificate_required`, `handshake_failure`…, at the handshake or the first read; or nginx's HTTP 400)",
        "The daemon did not accept our client certificate: it was not issued by a CA in the daemon's --tlscacert, it expired, or it lacks clientAuth.",
        "A real request is made: under TLS 1.3 a rejected client certificate only shows up as an alert on the first read, and nginx completes the handshake and answers HTTP 400 \"The SSL certificate error\". The alert is named.",
        "Get a client certificate from the daemon's CA and re-import it, or add the CA that issued ours to the daemon's --tlscacert and restart it.",
        "$ docker --context prod ps\nerror during connect: … remote error: tls: bad certificate",
    ),
    explain!(
        ClientCertExpired,
        E,
        "the client certificate has expired",
        "Our client certificate is past its notAfter date: the daemon will refuse it.",
        "The profile's client certificate dates are judged against this machine's clock, before any I/O.",
        "Get a new client certificate (`dctx pki client NAME --out bundle.tar` if you run the CA) and re-import it: `dctx add NAME --cert cert.pem --key key.pem --replace`.",
        "$ docker --context prod ps\nerror during connect: … remote error: tls: bad certificate",
    ),
    explain!(
        ClientCertNotYetValid,
        E,
        "its notBefore is in the future: usually this machine's (or the issuer's) clock is wrong",
        "Our client certificate is not valid yet, so the daemon refuses it.",
        "The client certificate's notBefore is later than this machine's clock.",
        "Check the clocks (`timedatectl`, NTP); reissue only if the date in the certificate is really wrong.",
        "$ dctx doctor prod\n  ✗ profile  … client cert not valid until …",
    ),
    explain!(
        ClientCertExpiring,
        W,
        "less than `--warn-days` (30) days left",
        "Our client certificate still works but expires soon.",
        "The client certificate's notAfter is within `--warn-days` (default 30).",
        "Get a new one before it expires and re-import it with `--replace`.",
        "$ dctx check\nNAME   …  STATUS  …  CLIENT CERT  FINDING\nprod   …  warn    …  9d           client-cert-expiring",
    ),
    explain!(
        ClientCertBadUsage,
        E,
        "no `clientAuth` extended key usage",
        "Our client certificate has an extended key usage without clientAuth (a server certificate used as a client one): dockerd refuses it.",
        "The client certificate's extendedKeyUsage extension exists and does not list clientAuth.",
        "Issue a client certificate with `extendedKeyUsage=clientAuth` (`dctx pki client NAME --out bundle.tar` does) and re-import it.",
        "$ docker --context prod ps\nerror during connect: … remote error: tls: bad certificate",
    ),
    explain!(
        CaCertExpired,
        E,
        "the profile's CA certificate has expired",
        "Our CA certificate is past its notAfter: nothing it signed verifies any more, so the daemon's certificate is refused.",
        "The profile's CA certificates' dates are judged against this machine's clock.",
        "Import the daemon's current CA (`dctx add NAME --ca ca.pem … --replace`); if you run the CA, `dctx pki renew ca` re-signs it with its same key (issued certificates stay valid).",
        "$ docker --context prod ps\nerror during connect: … x509: certificate has expired or is not yet valid",
    ),
    explain!(
        CaCertExpiring,
        W,
        "the profile's CA certificate has less than `--warn-days` (30) days left",
        "Our CA certificate expires soon; after that no certificate it signed verifies.",
        "The CA certificate's notAfter is within `--warn-days` (default 30).",
        "Plan the CA rollover now: a new CA, new server and client certificates, and both CAs in the daemon's --tlscacert during the switch.",
        "$ dctx doctor prod\n  ! profile  the CA certificate … expires in 20 days",
    ),
    explain!(
        ClientCaNotAccepted,
        E,
        "our client certificate's issuer is not among the CAs the server lists as acceptable",
        "The daemon told us which CAs it accepts client certificates from, and ours is not one of them: it will reject the certificate.",
        "The server's CertificateRequest lists acceptable CA names; the issuer of our client certificate is compared with them.",
        "Get a client certificate issued by one of the listed CAs and re-import it, or add our issuer to the daemon's --tlscacert bundle.",
        "$ dctx doctor prod\n      ✗ client-ca-not-accepted: the server accepts client certificates from CN=prod CA, but ours was issued by CN=other CA",
    ),
    explain!(
        KeyMismatch,
        E,
        "the private key does not belong to the client certificate",
        "The key file and the client certificate are from different pairs (a common result of guessing names in a bundle); TLS cannot work with them.",
        "The public key derived from the private key is compared with the certificate's public key, before any I/O.",
        "Import the matching pair: `dctx add NAME --cert cert.pem --key key.pem --replace` (dctx add matches keys to certificates by content when given a bundle).",
        "$ docker --context prod ps\nunable to resolve docker endpoint: … tls: private key does not match public key",
    ),
    explain!(
        ClientAuthNotRequired,
        E,
        "the daemon answered without asking for a client certificate: anyone who reaches the port is root",
        "The daemon encrypts but does not authenticate clients (dockerd with --tls but without --tlsverify): anyone who reaches the port controls the host.",
        "The probe sees whether the server sends a CertificateRequest, and whether the API answered although no (accepted) client certificate was sent.",
        "Restart dockerd on the dialled address with --tlsverify and --tlscacert (`--tls` or `--tlsverify=false` do not insist): `dockerd -H tcp://HOST:PORT --tlsverify --tlscacert=ca.pem --tlscert=server-cert.pem --tlskey=server-key.pem`, run in the daemon's certificate directory; behind nginx: `ssl_verify_client on` and `ssl_client_certificate ca.pem`. An error: `dctx check` exits 3.",
        "$ dctx doctor prod\n      ✗ client-auth-not-required: the daemon accepted us without asking for a client certificate",
    ),
    explain!(
        PlaintextEndpoint,
        E,
        "`tcp://` without TLS to another host (a warning on loopback)",
        "The daemon serves the Docker API in plain HTTP over the network: anyone who reaches the port is root on the host, and the traffic can be read and changed.",
        "A plain tcp:// profile got a Docker API answer without TLS.",
        "Enable TLS on dockerd (`--tlsverify --tlscacert --tlscert --tlskey`, port 2376; `dctx pki` issues what it needs), or reach it over ssh:// or a unix socket.",
        "$ dctx check\nNAME   ENDPOINT               STATUS  …  FINDING\nlab    tcp://10.0.0.9:2375    fail    …  plaintext-endpoint",
    ),
    explain!(
        SkipVerify,
        W,
        "the profile does not verify the server; server-certificate problems are then reported as `info`",
        "The profile (docker's SkipTLSVerify) accepts any server certificate: anyone on the path can impersonate the daemon and receive your commands.",
        "The profile or context has skip-verify set; server-certificate findings are still computed but demoted to info.",
        "Import the daemon's CA and drop skip-verify: `dctx add NAME --ca ca.pem --cert cert.pem --key key.pem --replace`.",
        "$ dctx doctor prod\n      ! skip-verify: the profile skips server certificate verification",
    ),
    explain!(
        ApiError,
        E,
        "an HTTP error that is none of the above (`GET /info` failing alone is a warning)",
        "TLS worked and the peer speaks the Docker API, but a request failed: a 5xx from the daemon, an authorization plugin's 403, a proxy error.",
        "GET /_ping, /version or /info returned an HTTP error status that no other code explains; the body is quoted (an HTML page as its title).",
        "Read the quoted error and the daemon's log (`journalctl -u docker`); for a 403, the daemon's authorization plugin or proxy rules.",
        "$ docker --context prod ps\nError response from daemon: authorization denied by plugin …",
    ),
    explain!(
        NotDocker,
        E,
        "the peer answered, but not like the Docker API (also: an answer larger than the cap)",
        "Something answers on the port, but it is not dockerd: a web server, a proxy's error page, another service, or an endless body.",
        "The /_ping or /version answer is not the Docker API's (no API-Version header, not Docker's JSON), or exceeds the cap (256 KiB a body, 1 MiB a connection).",
        "Check the port and what listens there (`ss -ltnp` on the host); behind a reverse proxy, check its upstream.",
        "$ docker --context prod ps\nError response from daemon: page not found",
    ),
    explain!(
        Drift,
        W,
        "dctx's record and Docker's context store disagree (host, TLS files, SkipTLSVerify, context removed, a shadowing env-only profile); what docker would use was probed",
        "Someone changed the Docker context (docker context update/rm) or dctx's record behind the other's back. Docker uses its own context, so that is what was probed.",
        "Each profile's record is compared with its Docker context: endpoint, TLS files, SkipTLSVerify, existence.",
        "`dctx show NAME` shows both sides; `dctx adopt NAME` accepts docker's version, `dctx add NAME … --replace` rewrites both.",
        "$ dctx doctor prod\n  ! profile  drift: Docker's context prod points at tcp://new:2376, dctx's record at tcp://old:2376",
    ),
    explain!(
        SshClientMissing,
        E,
        "`ssh://` endpoint, but no `ssh` client on this machine",
        "ssh:// contexts need the OpenSSH client on this machine (docker runs it too), and there is none on PATH.",
        "Starting `ssh` fails with \"not found\".",
        "Install the OpenSSH client (`apt install openssh-client`, `dnf install openssh-clients`).",
        "$ docker --context box ps\nerror during connect: … exec: \"ssh\": executable file not found in $PATH",
    ),
    explain!(
        SshHostKeyUnknown,
        E,
        "the host key is not in known_hosts; the fix shows the fingerprint to check, then `ssh-keyscan -p PORT host >> ~/.ssh/known_hosts`",
        "ssh has never seen this host: in batch mode (as docker runs it) it cannot ask you to accept the key, so it refuses.",
        "ssh runs in batch mode with strict host key checking; its \"Host key verification failed\" without a changed-key warning means the key is unknown.",
        "Check the host key's fingerprint out of band (the fix prints it), then `ssh-keyscan -p PORT HOST >> ~/.ssh/known_hosts`, or `ssh HOST` once interactively.",
        "$ docker --context box ps\nerror during connect: … Host key verification failed.",
    ),
    explain!(
        SshHostKeyChanged,
        E,
        "the host key differs from known_hosts (possible man-in-the-middle): a warning to verify out of band, never an automatic fix",
        "The host presents a different key than the one recorded: the host was reinstalled, or someone is intercepting the connection.",
        "ssh prints \"REMOTE HOST IDENTIFICATION HAS CHANGED\".",
        "Verify the new key with the host's owner out of band; only then remove the old one (`ssh-keygen -R HOST`) and accept the new one.",
        "$ docker --context box ps\n@@@ WARNING: REMOTE HOST IDENTIFICATION HAS CHANGED! @@@",
    ),
    explain!(
        SshAuthRefused,
        E,
        "the server refused every key; lists the keys offered, fix: `ssh-copy-id`",
        "sshd refused every identity ssh offered (no agent key, the wrong key, or the key is not in the user's authorized_keys).",
        "ssh ends with \"Permission denied (publickey…)\"; the keys it offered are listed from its verbose log.",
        "Install your public key on the host: `ssh-copy-id -p PORT USER@HOST`, or load the right key into ssh-agent.",
        "$ docker --context box ps\nerror during connect: … Permission denied (publickey).",
    ),
    explain!(
        SshNoDocker,
        E,
        "no `docker` on the remote PATH of non-interactive ssh sessions",
        "docker over ssh runs `docker system dial-stdio` on the host, and the non-interactive ssh session there finds no docker command.",
        "The remote shell answers \"docker: not found\" / \"command not found\".",
        "Install the docker CLI on the host, or put it on the PATH non-interactive ssh sessions get (`ssh HOST command -v docker` must print it).",
        "$ docker --context box ps\nerror during connect: … sh: 1: docker: not found",
    ),
    explain!(
        SshSocketDenied,
        E,
        "the remote user may not open the daemon socket (`usermod -aG docker USER`)",
        "The ssh user on the host is not allowed to open /var/run/docker.sock.",
        "The remote `docker system dial-stdio` reports permission denied on the daemon socket.",
        "On the host: `sudo usermod -aG docker USER` (then a new ssh login; docker group members are root-equivalent), or connect as a user who may.",
        "$ docker --context box ps\n… permission denied while trying to connect to the Docker daemon socket at unix:///var/run/docker.sock",
    ),
    explain!(
        SshDaemonNotRunning,
        E,
        "the remote docker finds no daemon behind its socket",
        "ssh and the remote docker CLI work, but dockerd is not running on the host (or the remote DOCKER_HOST points elsewhere).",
        "The remote `docker system dial-stdio` reports that the socket does not exist or refuses.",
        "Start the daemon on the host (`sudo systemctl start docker`); check which socket the remote docker dials (quoted in the finding).",
        "$ docker --context box ps\n… Cannot connect to the Docker daemon at unix:///var/run/docker.sock. Is the docker daemon running?",
    ),
    explain!(
        SshDialStdioUnsupported,
        E,
        "the remote docker is older than 18.09 (no `docker system dial-stdio`)",
        "docker over ssh needs `docker system dial-stdio` on the host, which docker CLIs before 18.09 lack.",
        "The remote docker answers that 'system dial-stdio' is not a docker command.",
        "Upgrade the docker CLI on the host (18.09 or later).",
        "$ docker --context box ps\n… docker: 'system dial-stdio' is not a docker command.",
    ),
    explain!(
        SshError,
        E,
        "ssh failed otherwise; its stderr is quoted",
        "ssh failed in a way none of the other ssh codes recognise.",
        "ssh exited with an error whose output matches no known pattern; its stderr is quoted in the failing step.",
        "Read ssh's quoted stderr; reproduce with `ssh -v HOST docker system dial-stdio`.",
        "$ dctx doctor box\n  ✗ ssh  ssh exited 255: …",
    ),
    explain!(
        ClientCertRevoked,
        E,
        "the client certificate is revoked: the front says so, or a CRL lists it",
        "The certificate's serial is on its CA's revocation list. A TLS front that checks the CRL (nginx `ssl_crl`, as `dctx pki daemon-config --format nginx --crl` renders it) refuses it; dockerd itself checks no CRL.",
        "The front's 403 says `certificate revoked`, and dctx looks the serial up in a CRL: `doctor --crl FILE`, the certificate's CRL distribution points, or the CRL of dctx's own CA (`<store>/pki/crl.pem`). A listed certificate the daemon still accepts is a warning: its front checks no CRL, or an older one.",
        "A revoked certificate never works again: get a new one (`dctx pki client NAME`, or your PKI's issue command) and re-import it with `dctx add NAME --bundle … --replace`.",
        "$ dctx doctor alice\n  ✗ client cert accepted  our client certificate CN=alice (serial 1CEF…) is revoked: the front at 10.0.0.5:2376 says \"client certificate refused: FAILED:certificate revoked\"",
    ),
    explain!(
        ForbiddenByFront,
        E,
        "a TLS front before dockerd answers 403 to this identity (names the subject and whom to ask)",
        "The TLS handshake succeeded, but the front (nginx with `--allow` / `--read-only`) does not let this certificate's subject in, or not for this request.",
        "The Docker API answer is 403 with the front's `dctx front:` message, or an HTML 403 page (dockerd never answers HTML).",
        "Ask the front's administrator (the message names them when the front was rendered with `--contact`) to add your subject to `--allow` or `--read-only`, or use a profile whose certificate the front allows.",
        "$ dctx doctor dave\n  ✗ ping  the front at 10.0.0.5:2376 answers 403 to CN=dave (serial 5FEA…): this client certificate is not allowed here",
    ),
    explain!(
        RenewalDue,
        W,
        "an enrolled profile (`dctx enroll`) is past its renewal point (2/3 of the certificate's lifetime) and was not renewed",
        "The profile's client certificate comes from OpenBao / Vault (or dctx's local CA) and is meant to be renewed before it expires; it has used up two thirds of its lifetime and nothing renewed it.",
        "From dctx's record, no network: the certificate's notBefore and notAfter, and the renewal point at 2/3 of that span; reported while now is between that point and notAfter.",
        "`dctx renew NAME` now; keep `dctx renew --watch` running (the README has a systemd user unit) so it never comes to this.",
        "$ dctx check prod\n… renewal-due: the client certificate is past its renewal point (…) and expires …",
    ),
    explain!(
        RenewalFailed,
        W,
        "the last `dctx renew` of this profile failed; the reason it gave is kept in dctx's record and quoted",
        "The last renewal attempt failed (server unreachable or sealed, the token lacks the sign policy, the certificate login was refused…); the current certificate is still in place and keeps working until it expires.",
        "From dctx's record: `dctx renew` keeps the last attempt's time and error there (never a token), and clears it on the next success.",
        "Fix the quoted cause (the message names it: a policy line, `bao operator unseal`, the address), then `dctx renew NAME`.",
        "$ dctx renew prod\ndctx: prod: renewal failed: https://bao:8200 refused pki/sign/client (403: permission denied) …",
    ),
];

#[cfg(test)]
mod tests {
    use super::*;

    /// The variant names of `Code`, from the registry (`codes!` in
    /// finding.rs lists every code once).
    fn declared_codes() -> Vec<String> {
        Code::ALL.iter().map(|c| format!("{c:?}")).collect()
    }

    /// Whoever adds a finding code adds its explanation here.
    #[test]
    fn every_code_is_explained_once() {
        let declared = declared_codes();
        assert!(declared.len() >= 40, "parsed too few codes: {declared:?}");
        let explained: Vec<String> = ALL.iter().map(|e| format!("{:?}", e.code)).collect();
        for code in &declared {
            let n = explained.iter().filter(|e| *e == code).count();
            assert_eq!(
                n, 1,
                "Code::{code} has {n} explanations in src/probe/explain.rs: add one (what it means, how dctx detects it, the fix, an example)"
            );
        }
        assert_eq!(explained.len(), declared.len());
        for e in ALL {
            assert_eq!(lookup(e.code.as_str()).map(|x| x.code), Some(e.code));
            for (what, text) in [
                ("summary", e.summary),
                ("meaning", e.meaning),
                ("detection", e.detection),
                ("fix", e.fix),
                ("example", e.example),
            ] {
                assert!(!text.trim().is_empty(), "{}: empty {what}", e.code);
            }
        }
    }

    /// The README's findings table lists every code once, with the
    /// severity and fix kind the registry gives it and a meaning that starts
    /// with its summary, and nothing else.
    #[test]
    fn readme_findings_table_is_the_registry() {
        let readme = std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/README.md"))
            .expect("README.md");
        let mut lines = readme
            .lines()
            .skip_while(|l| !l.starts_with("| code | severity |"));
        assert_eq!(
            lines.next(),
            Some("| code | severity | fix | meaning |"),
            "README.md has no `| code | severity | fix | meaning |` table"
        );
        let rows: Vec<[String; 4]> = lines
            .skip(1) // |---|---|
            .take_while(|l| l.starts_with('|'))
            .map(|l| {
                let cells: Vec<&str> = l.split('|').map(str::trim).collect();
                [
                    cells[1].trim_matches('`').to_string(),
                    cells[2].to_string(),
                    cells[3].to_string(),
                    cells[4].to_string(),
                ]
            })
            .collect();
        assert_eq!(rows.len(), Code::ALL.len(), "one row per code");
        for e in ALL {
            let found: Vec<_> = rows.iter().filter(|r| r[0] == e.code.as_str()).collect();
            assert_eq!(
                found.len(),
                1,
                "README's findings table: {} appears {} times",
                e.code,
                found.len()
            );
            assert_eq!(
                found[0][1],
                e.severity.as_str(),
                "README's severity for {}",
                e.code
            );
            assert_eq!(
                found[0][2],
                e.code.fix_kind().as_str(),
                "README's fix kind for {}",
                e.code
            );
            assert!(
                found[0][3].starts_with(e.summary),
                "README's meaning for {} does not start with its summary {:?}",
                e.code,
                e.summary
            );
        }
        for [code, ..] in &rows {
            assert!(
                Code::parse(code).is_some(),
                "README's findings table lists {code}, which is no finding code"
            );
        }
    }
}
