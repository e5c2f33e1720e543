//! One form for certificate expiry, used by every command: the same day
//! count (whole days, rounded down) and the same words everywhere.

use std::fmt;

/// A certificate's remaining validity in whole days, rounded down (as the
/// JSON `days_left` fields): -1 means it expired within the last day.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Expiry {
    days_left: i64,
    warn_days: i64,
}

/// `--warn-days`' default: below this many days left a certificate is
/// "expiring" (a warning, coloured yellow).
pub const DEFAULT_WARN_DAYS: u32 = 30;

/// How urgent an expiry is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ExpiryState {
    Valid,
    Soon,
    Expired,
}

impl Expiry {
    /// From `not_after` and `now`, Unix seconds.
    pub fn new(not_after: i64, now: i64) -> Self {
        Self::from_days_left((not_after - now).div_euclid(86_400))
    }

    /// From a `days_left` computed the same way (`CertInfo::days_left`).
    pub fn from_days_left(days_left: i64) -> Self {
        Expiry {
            days_left,
            warn_days: i64::from(DEFAULT_WARN_DAYS),
        }
    }

    /// "Expiring" below `warn_days` days left (`--warn-days`), the same
    /// threshold the probe's `*-expiring` findings use.
    pub fn warn_within(self, warn_days: i64) -> Self {
        Expiry { warn_days, ..self }
    }

    pub fn days_left(&self) -> i64 {
        self.days_left
    }

    pub fn expired(&self) -> bool {
        self.days_left < 0
    }

    pub fn state(&self) -> ExpiryState {
        if self.expired() {
            ExpiryState::Expired
        } else if self.days_left < self.warn_days {
            ExpiryState::Soon
        } else {
            ExpiryState::Valid
        }
    }

    /// Table form: "41d", "<1d", "expired 3d ago".
    pub fn short(&self) -> String {
        match self.days_left {
            d if d < 0 => format!("expired {}d ago", -d),
            0 => "<1d".into(),
            d => format!("{d}d"),
        }
    }

    /// The colour this expiry is shown in.
    pub fn style(&self) -> super::Style {
        match self.state() {
            ExpiryState::Expired => super::Style::Red,
            ExpiryState::Soon => super::Style::Yellow,
            ExpiryState::Valid => super::Style::Plain,
        }
    }
}

fn days(n: i64) -> String {
    if n == 1 {
        "1 day".into()
    } else {
        format!("{n} days")
    }
}

/// Sentence form: "expires in 41 days", "expires in under a day",
/// "expired 3 days ago".
impl fmt::Display for Expiry {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.days_left {
            d if d < 0 => write!(f, "expired {} ago", days(-d)),
            0 => f.write_str("expires in under a day"),
            d => write!(f, "expires in {}", days(d)),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const DAY: i64 = 86_400;

    #[test]
    fn one_rounding_for_both_directions() {
        let now = 1_000 * DAY;
        // 1.5 days ago: days_left is -2 (JSON), and the words say the same.
        let e = Expiry::new(now - DAY - DAY / 2, now);
        assert_eq!(e.days_left(), -2);
        assert_eq!(e.to_string(), "expired 2 days ago");
        assert_eq!(e.short(), "expired 2d ago");
        assert_eq!(Expiry::new(now - 10, now).to_string(), "expired 1 day ago");
        let e = Expiry::new(now + 41 * DAY + 5, now);
        assert_eq!(e.to_string(), "expires in 41 days");
        assert_eq!(e.short(), "41d");
        assert_eq!(e.state(), ExpiryState::Valid);
        assert_eq!(Expiry::new(now + 3 * DAY, now).state(), ExpiryState::Soon);
        assert_eq!(Expiry::new(now + 60, now).short(), "<1d");
        assert_eq!(
            Expiry::new(now + 60, now).to_string(),
            "expires in under a day"
        );
    }
}
