//! Cell colours: what a word means (red: broken, yellow: soon), painted
//! only when the caller decided colour is on (`output::styled`).

/// A colour for one cell (applied only when rendering with `color`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Style {
    Plain,
    Red,
    Yellow,
    Green,
    Dim,
    Bold,
}

impl Style {
    /// The terminal style this colour is drawn with.
    pub fn anstyle(self) -> anstyle::Style {
        use anstyle::AnsiColor;
        match self {
            Style::Plain => anstyle::Style::new(),
            Style::Red => AnsiColor::Red.on_default(),
            Style::Yellow => AnsiColor::Yellow.on_default(),
            Style::Green => AnsiColor::Green.on_default(),
            Style::Dim => anstyle::Style::new().dimmed(),
            Style::Bold => anstyle::Style::new().bold(),
        }
    }

    /// `s` wrapped in this style's escape codes when `color`.
    pub fn paint(self, color: bool, s: &str) -> String {
        if color && self != Style::Plain {
            let st = self.anstyle();
            format!("{}{s}{}", st.render(), st.render_reset())
        } else {
            s.to_string()
        }
    }
}

#[cfg(test)]
mod tests {
    use super::Style;

    /// The exact SGR bytes the tables have always printed.
    #[test]
    fn escapes_are_the_plain_sgr_codes() {
        let painted: Vec<String> = [
            Style::Red,
            Style::Yellow,
            Style::Green,
            Style::Dim,
            Style::Bold,
        ]
        .iter()
        .map(|s| s.paint(true, "x"))
        .collect();
        assert_eq!(
            painted,
            [
                "\x1b[31mx\x1b[0m",
                "\x1b[33mx\x1b[0m",
                "\x1b[32mx\x1b[0m",
                "\x1b[2mx\x1b[0m",
                "\x1b[1mx\x1b[0m",
            ]
        );
        assert_eq!(Style::Plain.paint(true, "x"), "x");
        assert_eq!(Style::Red.paint(false, "x"), "x");
    }
}
