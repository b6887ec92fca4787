//! A result set whose size is known before its rows exist.
//!
//! API301 for a month is hundreds of thousands of odds rows; counting them is combinatorics,
//! building them is not free. A page only builds the chunks (races) it overlaps.

use crate::query::Paging;
use crate::wire::Item;

type Make<'a> = Box<dyn Fn() -> Vec<Item> + 'a>;

enum Chunk<'a> {
    Ready(Vec<Item>),
    Lazy(usize, Make<'a>),
}

impl Chunk<'_> {
    fn len(&self) -> usize {
        match self {
            Chunk::Ready(items) => items.len(),
            Chunk::Lazy(len, _) => *len,
        }
    }
}

/// Rows in serving order, some of them not built yet.
#[derive(Default)]
pub(crate) struct Rows<'a> {
    chunks: Vec<Chunk<'a>>,
}

impl<'a> Rows<'a> {
    pub fn new() -> Self {
        Rows { chunks: Vec::new() }
    }

    /// Appends built rows.
    pub fn extend(&mut self, items: Vec<Item>) {
        self.chunks.push(Chunk::Ready(items));
    }

    /// Appends `len` rows that `make` builds on demand; `make` must return exactly `len`.
    pub fn lazy(&mut self, len: usize, make: impl Fn() -> Vec<Item> + 'a) {
        self.chunks.push(Chunk::Lazy(len, Box::new(make)));
    }

    /// Total number of rows.
    pub fn total(&self) -> usize {
        self.chunks.iter().map(Chunk::len).sum()
    }

    /// The rows of one page.
    pub fn page(self, paging: Paging) -> Vec<Item> {
        let wanted = paging.range(self.total());
        let mut out = Vec::with_capacity(wanted.len());
        let mut offset = 0;
        for chunk in self.chunks {
            let len = chunk.len();
            let (start, end) = (offset, offset + len);
            offset = end;
            if end <= wanted.start || start >= wanted.end {
                continue;
            }
            let items = match chunk {
                Chunk::Ready(items) => items,
                Chunk::Lazy(_, make) => make(),
            };
            let from = wanted.start.saturating_sub(start);
            let to = (wanted.end - start).min(items.len());
            out.extend(items.into_iter().take(to).skip(from));
        }
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::wire::n;

    #[test]
    fn pages_across_chunks_and_builds_only_what_it_needs() {
        let row = |i: i64| vec![("i", n(i))];
        let mut rows = Rows::new();
        rows.extend((0..3).map(row).collect());
        rows.lazy(4, move || (3..7).map(row).collect());
        rows.lazy(100, || panic!("never built: outside the page"));
        assert_eq!(rows.total(), 107);
        let page = rows.page(Paging { page_no: 2, num_of_rows: 2 });
        assert_eq!(page, vec![row(2), row(3)]);
    }
}
