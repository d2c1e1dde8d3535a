//! Pagination shared by every paginated operation: opaque NextTokens, and the
//! paging faults (empty pages with a token, a token that repeats forever).

const ENDLESS: &str = "fake.endless";

/// Paging faults in force for one call.
#[derive(Clone, Copy, Debug, Default)]
pub(crate) struct PagingFaults {
    pub(crate) empty_before_each: u32,
    pub(crate) endless: bool,
}

/// One page: items `start..end` of the full list, and the token for the next.
#[derive(Debug, PartialEq, Eq)]
pub(crate) struct Page {
    pub(crate) start: usize,
    pub(crate) end: usize,
    pub(crate) next_token: Option<String>,
    pub(crate) kind: PageKind,
}

#[derive(Debug, PartialEq, Eq, Clone, Copy)]
pub(crate) enum PageKind {
    Normal,
    InjectedEmpty,
    Endless,
}

/// The token does not come from this fake (or points past the end).
#[derive(Debug, PartialEq, Eq)]
pub(crate) struct InvalidToken;

/// Cuts page `token` of a list of `total` items into pages of `page_size`.
pub(crate) fn page(
    total: usize,
    page_size: usize,
    token: Option<&str>,
    faults: PagingFaults,
) -> Result<Page, InvalidToken> {
    let page_size = page_size.max(1);
    let (offset, empties) = match token {
        None | Some("") => (0, 0),
        Some(ENDLESS) => (0, u32::MAX),
        Some(token) => parse(token).ok_or(InvalidToken)?,
    };
    if offset > total {
        return Err(InvalidToken);
    }
    if faults.endless {
        return Ok(Page {
            start: 0,
            end: total.min(page_size),
            next_token: Some(ENDLESS.to_owned()),
            kind: PageKind::Endless,
        });
    }
    if empties < faults.empty_before_each && offset < total {
        return Ok(Page {
            start: offset,
            end: offset,
            next_token: Some(format!("fake.{offset}.{}", empties + 1)),
            kind: PageKind::InjectedEmpty,
        });
    }
    let end = total.min(offset.saturating_add(page_size));
    Ok(Page {
        start: offset,
        end,
        next_token: (end < total).then(|| format!("fake.{end}.0")),
        kind: PageKind::Normal,
    })
}

fn parse(token: &str) -> Option<(usize, u32)> {
    let rest = token.strip_prefix("fake.")?;
    let (offset, empties) = rest.split_once('.')?;
    Some((offset.parse().ok()?, empties.parse().ok()?))
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    fn walk(total: usize, size: usize, faults: PagingFaults) -> Vec<(usize, usize)> {
        let mut token: Option<String> = None;
        let mut pages = Vec::new();
        loop {
            let page = page(total, size, token.as_deref(), faults).unwrap();
            pages.push((page.start, page.end));
            match page.next_token {
                Some(next) => token = Some(next),
                None => return pages,
            }
            assert!(pages.len() < 1000, "runaway paging");
        }
    }

    #[test]
    fn pages_cover_the_list_exactly_once() {
        assert_eq!(
            walk(5, 2, PagingFaults::default()),
            vec![(0, 2), (2, 4), (4, 5)]
        );
        assert_eq!(walk(4, 2, PagingFaults::default()), vec![(0, 2), (2, 4)]);
        assert_eq!(walk(0, 2, PagingFaults::default()), vec![(0, 0)]);
        assert_eq!(walk(3, 10, PagingFaults::default()), vec![(0, 3)]);
    }

    #[test]
    fn empty_pages_precede_every_real_page() {
        let faults = PagingFaults {
            empty_before_each: 2,
            endless: false,
        };
        assert_eq!(
            walk(3, 2, faults),
            vec![(0, 0), (0, 0), (0, 2), (2, 2), (2, 2), (2, 3)]
        );
        let first = page(3, 2, None, faults).unwrap();
        assert_eq!(first.kind, PageKind::InjectedEmpty);
        assert!(first.next_token.is_some());
    }

    #[test]
    fn endless_token_repeats_forever() {
        let faults = PagingFaults {
            empty_before_each: 0,
            endless: true,
        };
        let first = page(5, 2, None, faults).unwrap();
        let again = page(5, 2, first.next_token.as_deref(), faults).unwrap();
        assert_eq!(first, again);
        assert_eq!((again.start, again.end), (0, 2));
        assert_eq!(again.kind, PageKind::Endless);
        // Once the fault is lifted, the endless token restarts normal paging.
        let lifted = page(5, 2, first.next_token.as_deref(), PagingFaults::default()).unwrap();
        assert_eq!((lifted.start, lifted.end), (0, 2));
    }

    #[test]
    fn foreign_or_stale_tokens_are_rejected() {
        let faults = PagingFaults::default();
        assert_eq!(page(5, 2, Some("garbage"), faults), Err(InvalidToken));
        assert_eq!(page(5, 2, Some("fake.9.0"), faults), Err(InvalidToken));
        assert_eq!(page(5, 2, Some("fake.x.0"), faults), Err(InvalidToken));
    }
}
