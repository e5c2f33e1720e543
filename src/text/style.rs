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
    fn code(self) -> &'static str {
        match self {
            Style::Plain => "",
            Style::Red => "\x1b[31m",
            Style::Yellow => "\x1b[33m",
            Style::Green => "\x1b[32m",
            Style::Dim => "\x1b[2m",
            Style::Bold => "\x1b[1m",
        }
    }

    /// `s` wrapped in this style's escape codes when `color`.
    pub fn paint(self, color: bool, s: &str) -> String {
        if color && self != Style::Plain {
            format!("{}{s}\x1b[0m", self.code())
        } else {
            s.to_string()
        }
    }
}
