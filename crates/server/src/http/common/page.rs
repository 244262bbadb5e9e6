//! Pagination by cursor, the same for every surface: a page size from the request (1 to
//! 200, 50 when absent) and, when the page is full, the cursor that fetches the next one.

/// The page size a request asks for, clamped to what the store is asked for at most.
pub fn page_size(requested: Option<u32>) -> u32 {
    requested.unwrap_or(50).clamp(1, 200)
}

/// One page of items and the cursor of the next (absent on the last page).
pub struct Page<T> {
    pub items: Vec<T>,
    pub next: Option<String>,
}

impl<T> Page<T> {
    /// `items` as fetched with `size`: a full page may have a next one, which starts after
    /// the last item's `cursor`.
    pub fn new(items: Vec<T>, size: u32, cursor: impl Fn(&T) -> String) -> Self {
        let next = (items.len() == size as usize)
            .then(|| items.last().map(&cursor))
            .flatten();
        Self { items, next }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sizes_are_clamped_and_only_full_pages_have_a_next() {
        assert_eq!(page_size(None), 50);
        assert_eq!(page_size(Some(0)), 1);
        assert_eq!(page_size(Some(1000)), 200);
        let full = Page::new(vec![1, 2], 2, |n| n.to_string());
        assert_eq!(full.next.as_deref(), Some("2"));
        assert!(Page::new(vec![1], 2, |n| n.to_string()).next.is_none());
        assert!(Page::new(Vec::<u8>::new(), 1, |n| n.to_string()).next.is_none());
    }
}
