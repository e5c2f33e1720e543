//! Plain aligned columns (like `docker context ls` / `kubectl get`): one line
//! per row, no rules, a token is never wrapped. When the width is too small,
//! the least important columns are truncated with `…` or dropped first;
//! priority 0 columns (NAME, STATUS) are never touched. Hand-written rather
//! than a table crate: the layout by priority (shorten or drop the least
//! important column) is the point of it.

use unicode_width::{UnicodeWidthChar, UnicodeWidthStr};

pub use crate::text::Style;

/// One column: its header, how important it is (0 = always shown, larger =
/// dropped earlier) and whether it may be shortened with `…` (down to
/// `min` characters) before it is dropped.
#[derive(Debug, Clone)]
pub struct Column {
    pub header: &'static str,
    pub priority: u8,
    pub truncate_to: Option<usize>,
}

impl Column {
    /// A column shown whatever the width (NAME, STATUS).
    pub fn always(header: &'static str) -> Self {
        Column {
            header,
            priority: 0,
            truncate_to: None,
        }
    }

    /// A column dropped when space runs out; larger `priority` goes first.
    pub fn optional(header: &'static str, priority: u8) -> Self {
        Column {
            header,
            priority,
            truncate_to: None,
        }
    }

    /// Shorten with `…` down to `min` characters before dropping it.
    pub fn truncate(mut self, min: usize) -> Self {
        self.truncate_to = Some(min);
        self
    }
}

/// One cell: text and an optional style.
#[derive(Debug, Clone)]
pub struct Cell {
    pub text: String,
    pub style: Style,
    /// The row's reason (an expired cert, drift): never cut, and its column
    /// is never dropped.
    pub vital: bool,
}

impl Cell {
    pub fn styled(text: impl Into<String>, style: Style) -> Self {
        Cell {
            text: text.into(),
            style,
            vital: false,
        }
    }

    /// A cell that must be read whatever the width.
    pub fn vital(mut self, vital: bool) -> Self {
        self.vital = vital;
        self
    }
}

impl From<String> for Cell {
    fn from(text: String) -> Self {
        Cell::styled(text, Style::Plain)
    }
}

impl From<&str> for Cell {
    fn from(text: &str) -> Self {
        Cell::styled(text, Style::Plain)
    }
}

/// Spaces between columns.
const GAP: usize = 3;

#[derive(Debug, Clone)]
pub struct Table {
    columns: Vec<Column>,
    rows: Vec<Vec<Cell>>,
    shorten_first: bool,
}

/// Terminal columns `s` takes (a CJK character takes two).
pub fn width_of(s: &str) -> usize {
    UnicodeWidthStr::width(s)
}

/// `s` cut to at most `w` columns, the last one `…` when something was cut
/// (a wide character is never split, so the result may be a column short).
pub fn cut(s: &str, w: usize) -> String {
    if width_of(s) <= w {
        return s.to_string();
    }
    let mut out = String::new();
    let mut used = 0;
    for c in s.chars() {
        let cw = UnicodeWidthChar::width(c).unwrap_or(0);
        if used + cw + 1 > w {
            break;
        }
        used += cw;
        out.push(c);
    }
    out.push('…');
    out
}

impl Table {
    pub fn new(columns: Vec<Column>) -> Self {
        Table {
            columns,
            rows: Vec::new(),
            shorten_first: false,
        }
    }

    /// Shorten every truncatable column (left to right) before dropping
    /// any: what a row says outranks how long its endpoint is.
    pub fn shorten_first(mut self) -> Self {
        self.shorten_first = true;
        self
    }

    /// Widest vital cell of column `i` (0: none).
    fn vital_width(&self, i: usize) -> usize {
        self.rows
            .iter()
            .filter_map(|r| r.get(i))
            .filter(|c| c.vital)
            .map(|c| width_of(&c.text))
            .max()
            .unwrap_or(0)
    }

    /// Add a row; missing cells are empty, extra cells are ignored.
    pub fn add_row(&mut self, cells: Vec<Cell>) {
        self.rows.push(cells);
    }

    /// Per column: `None` = dropped, `Some(w)` = shown at width `w`.
    fn layout(&self, width: Option<usize>) -> Vec<Option<usize>> {
        let natural: Vec<usize> = self
            .columns
            .iter()
            .enumerate()
            .map(|(i, c)| {
                self.rows
                    .iter()
                    .filter_map(|r| r.get(i))
                    .map(|cell| width_of(&cell.text))
                    .chain([width_of(c.header)])
                    .max()
                    .unwrap_or(0)
            })
            .collect();
        let mut widths: Vec<Option<usize>> = natural.iter().map(|w| Some(*w)).collect();
        let Some(limit) = width else {
            return widths;
        };
        let total = |ws: &[Option<usize>]| {
            let shown: Vec<usize> = ws.iter().flatten().copied().collect();
            shown.iter().sum::<usize>() + GAP * shown.len().saturating_sub(1)
        };
        // Least important first; ties: the rightmost first.
        let mut order: Vec<usize> = (0..self.columns.len())
            .filter(|&i| self.columns[i].priority > 0)
            .collect();
        order.sort_by_key(|&i| {
            (
                std::cmp::Reverse(self.columns[i].priority),
                std::cmp::Reverse(i),
            )
        });
        let floor = |i: usize| {
            self.columns[i].truncate_to.map(|m| {
                m.max(width_of(self.columns[i].header))
                    .max(self.vital_width(i))
                    .min(natural[i])
            })
        };
        if self.shorten_first {
            // Drop (least important first, never a column holding a vital
            // cell) until the shortest form fits; then give the room left
            // back right to left: the leftmost truncatable column (an
            // endpoint) stays the shortened one.
            let mut least: Vec<Option<usize>> = (0..natural.len())
                .map(|i| Some(floor(i).unwrap_or(natural[i])))
                .collect();
            for &i in &order {
                if total(&least) <= limit {
                    break;
                }
                if self.vital_width(i) == 0 {
                    least[i] = None;
                }
            }
            let mut spare = limit.saturating_sub(total(&least));
            for (i, w) in least.iter_mut().enumerate().rev() {
                if let Some(w) = w {
                    let more = spare.min(natural[i] - *w);
                    *w += more;
                    spare -= more;
                }
            }
            return least;
        }
        // Least important first: shorten it with `…` if that alone makes
        // the table fit, else drop it and look at the next one.
        for &i in &order {
            let over = total(&widths).saturating_sub(limit);
            if over == 0 {
                break;
            }
            widths[i] = floor(i)
                .filter(|f| natural[i] - f >= over)
                .map(|_| natural[i] - over);
        }
        widths
    }

    /// The table as text, each line ending in `\n` and without trailing
    /// blanks. `width`: the terminal's columns (None: no limit, e.g. piped
    /// or `--wide`). `color`: apply cell styles.
    pub fn render(&self, width: Option<usize>, color: bool) -> String {
        let widths = self.layout(width);
        let shown: Vec<(usize, usize)> = widths
            .iter()
            .enumerate()
            .filter_map(|(i, w)| w.map(|w| (i, w)))
            .collect();
        let mut out = String::new();
        let header: Vec<Cell> = self.columns.iter().map(|c| Cell::from(c.header)).collect();
        for row in std::iter::once(&header).chain(&self.rows) {
            let mut line = String::new();
            for (n, &(i, w)) in shown.iter().enumerate() {
                let (text, style) = row
                    .get(i)
                    .map(|c| (cut(&c.text, w), c.style))
                    .unwrap_or_else(|| (String::new(), Style::Plain));
                if n > 0 {
                    line.push_str(&" ".repeat(GAP));
                }
                let pad = w - width_of(&text);
                line.push_str(&style.paint(color, &text));
                line.push_str(&" ".repeat(pad));
            }
            out.push_str(line.trim_end());
            out.push('\n');
        }
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sample() -> Table {
        let mut t = Table::new(vec![
            Column::always("NAME"),
            Column::optional("ENDPOINT", 2).truncate(12),
            Column::always("STATUS"),
            Column::optional("VERSION", 3),
            Column::optional("FINDING", 1).truncate(10),
        ]);
        t.add_row(vec![
            "prod".into(),
            "tcp://127.0.0.1:31076".into(),
            Cell::styled("fail", Style::Red),
            "24.0.7".into(),
            "name-mismatch, unknown-ca".into(),
        ]);
        t.add_row(vec![
            "a".into(),
            "unix:///run/docker.sock".into(),
            "ok".into(),
        ]);
        t
    }

    #[test]
    fn full_width_is_aligned_without_trailing_blanks() {
        let s = sample().render(None, false);
        let lines: Vec<&str> = s.lines().collect();
        assert_eq!(lines.len(), 3);
        assert_eq!(
            lines[0],
            "NAME   ENDPOINT                  STATUS   VERSION   FINDING"
        );
        assert_eq!(
            lines[1],
            "prod   tcp://127.0.0.1:31076     fail     24.0.7    name-mismatch, unknown-ca"
        );
        assert_eq!(lines[2], "a      unix:///run/docker.sock   ok");
        assert!(s.lines().all(|l| l == l.trim_end()));
    }

    #[test]
    fn narrow_drops_least_important_first_never_name_or_status() {
        let t = sample();
        // Drop VERSION (priority 3) first, then truncate ENDPOINT before
        // dropping it; FINDING (1) is kept longest.
        let s = t.render(Some(60), false);
        assert!(!s.contains("VERSION"), "{s}");
        assert!(s.contains("name-mismatch, unknown-ca"), "{s}");
        let s = t.render(Some(58), false);
        assert!(s.contains('…'), "{s}");
        assert!(s.lines().all(|l| width_of(l) <= 58), "{s}");
        let s = t.render(Some(10), false);
        assert!(s.starts_with("NAME   STATUS\n"), "{s}");
        assert!(s.contains("prod   fail"), "{s}");
    }

    #[test]
    fn shorten_first_keeps_vital_cells_and_cuts_the_endpoint_first() {
        let mut t = Table::new(vec![
            Column::always("NAME"),
            Column::optional("ENDPOINT", 1).truncate(12),
            Column::optional("TLS", 2),
            Column::optional("CLIENT CERT", 3),
            Column::optional("NOTE", 4).truncate(8),
        ])
        .shorten_first();
        t.add_row(vec![
            "staging-eu-west".into(),
            "tcp://127.0.0.1:2376".into(),
            "TLS, system roots".into(),
            Cell::from("expired 705d ago").vital(true),
            Cell::from("drift: tls-removed").vital(true),
        ]);
        t.add_row(vec![
            "default".into(),
            "unix:///var/run/docker.sock".into(),
            "unix socket".into(),
            "-".into(),
            "docker's default".into(),
        ]);
        let s = t.render(Some(80), false);
        assert!(s.lines().all(|l| width_of(l) <= 80), "{s}");
        assert!(s.contains("expired 705d ago   drift: tls-removed"), "{s}");
        // The vital cells' columns stay, so TLS goes (the least important left).
        assert!(!s.contains("TLS"), "{s}");
        // At 100 all columns fit once the endpoint is cut: only it is.
        let s = t.render(Some(100), false);
        assert!(s.contains("TLS, system roots"), "{s}");
        assert!(s.contains("docker's default"), "{s}");
        assert!(s.contains("unix:///var/run/docke… "), "{s}");
    }

    #[test]
    fn wide_characters_count_two_columns() {
        let mut t = Table::new(vec![
            Column::always("NAME"),
            Column::optional("SUBJ", 1).truncate(4),
            Column::always("STATUS"),
        ]);
        // "東京本番" is 4 characters but 8 terminal columns.
        t.add_row(vec!["東京本番".into(), "CN=東京".into(), "ok".into()]);
        t.add_row(vec!["a".into(), "CN=x".into(), "fail".into()]);
        let s = t.render(None, false);
        assert_eq!(
            s,
            "NAME       SUBJ      STATUS\n東京本番   CN=東京   ok\na          CN=x      fail\n"
        );
        // Exactly the table's width: nothing cut or dropped.
        assert_eq!(t.render(Some(27), false), s);
        // One column less: SUBJ is cut by one column, and no line is wider
        // than the terminal.
        let s = t.render(Some(26), false);
        assert!(s.lines().all(|l| width_of(l) <= 26), "{s}");
        assert!(s.contains("CN=東…"), "{s}");
        // A wide character is never split: cut at an odd width pads instead.
        assert_eq!(cut("東京本番", 4), "東…");
        let s = t.render(Some(25), false);
        assert!(s.contains("東京本番   CN=…    ok"), "{s}");
    }

    #[test]
    fn color_wraps_only_the_text() {
        let s = sample().render(None, true);
        assert!(s.contains("\x1b[31mfail\x1b[0m     24.0.7"), "{s:?}");
        assert!(!sample().render(None, false).contains('\x1b'));
    }
}
