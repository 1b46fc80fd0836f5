package nsx

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/url"
	"sort"
	"strconv"
	"sync"
)

// How Collect reads concurrently without changing what it reads.
//
// The collection logic (provider.go, policy.go) is written as one sequential walk: read a port,
// then its switch, then the router the switch's router port names, and so on. Run as it is, every
// read waits for the previous one: a pod-to-node walk was 25 round trips one after another.
//
// Collect instead runs that logic in rounds against a per-Collect cache of answers. In a dry
// round a read that is not cached yet does not go to the manager: it is noted, answers
// errPending, and the logic carries on with whatever does not depend on it (soft() swallows
// errPending, so sibling reads are noted too). Between rounds every noted read is fetched at once,
// up to maxConcurrent at a time. So round k discovers the reads of level k of the walk's
// dependency tree, and the manager sees one round trip per level, not per object. A round
// that notes nothing (or stops at a fatal error) ends the dry rounds; a last live round then runs
// the same logic against the cache, fetching (sequentially) whatever is still missing, and its
// state is the result. The result is therefore exactly what the sequential walk reads; dry rounds
// only decide what is fetched early. Dry rounds also fetch a few reads speculatively
// (prefetchRouter): what a router needs before its GET has answered, and the tier-0s' reads
// before a link names them; those are used only if the walk reaches them.

// errPending is a read a dry round has noted for the next level; soft() treats it as no error.
var errPending = errors.New("nsx: read not fetched yet")

func pending(err error) bool { return errors.Is(err, errPending) }

// maxConcurrent bounds the requests in flight at once: under NSX-T's default per-client API
// concurrency limit (40), so a wide level (a check's thousand endpoints) is not throttled by it.
const maxConcurrent = 32

// maxRounds bounds the dry rounds (the levels of a walk's reads; list pages are followed within one).
const maxRounds = 32

type fetchEntry struct {
	val any
	err error
}

// fetcher is one Collect's cache of the manager's answers, keyed by path and query.
type fetcher struct {
	c   *client
	dry bool

	mu    sync.Mutex
	cache map[string]fetchEntry
	want  map[string]func(ctx context.Context)
	// decoded are list pages' entries once decoded, by page and entry type: every round reads
	// the same pages again (a check's grouped searches, each read by 50 endpoints, per round).
	decoded map[string]any
	// attachGroups are the attachments searched together (groupAttachments), by attachment.
	attachGroups map[string][]string
}

func (f *fetcher) attachGroup(att string) []string {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.attachGroups[att]
}

func (f *fetcher) setAttachGroup(group []string) {
	f.mu.Lock()
	defer f.mu.Unlock()
	for _, a := range group {
		f.attachGroups[a] = group
	}
}

func newFetcher(c *client) *fetcher {
	return &fetcher{c: c, cache: map[string]fetchEntry{}, want: map[string]func(ctx context.Context){}, decoded: map[string]any{}, attachGroups: map[string][]string{}}
}

func cacheKey(path string, q url.Values) string { return path + "?" + q.Encode() }

func cloneValues(q url.Values) url.Values {
	out := make(url.Values, len(q))
	for k, v := range q {
		out[k] = append([]string(nil), v...)
	}
	return out
}

func (f *fetcher) lookup(key string) (fetchEntry, bool) {
	f.mu.Lock()
	defer f.mu.Unlock()
	e, ok := f.cache[key]
	return e, ok
}

func (f *fetcher) store(key string, val any, err error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.cache[key] = fetchEntry{val, err}
}

// note records a read for the next level (dry rounds).
func (f *fetcher) note(key string, do func(ctx context.Context)) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if _, ok := f.want[key]; !ok {
		f.want[key] = do
	}
}

// noted is the number of reads waiting for the next level.
func (f *fetcher) noted() int {
	f.mu.Lock()
	defer f.mu.Unlock()
	return len(f.want)
}

// fetchNoted fetches every noted read at once, at most maxConcurrent in flight.
func (f *fetcher) fetchNoted(ctx context.Context) {
	f.mu.Lock()
	keys := make([]string, 0, len(f.want))
	for k := range f.want {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	todo := make([]func(context.Context), len(keys))
	for i, k := range keys {
		todo[i] = f.want[k]
	}
	f.want = map[string]func(ctx context.Context){}
	f.mu.Unlock()
	sem := make(chan struct{}, maxConcurrent)
	var wg sync.WaitGroup
	for _, do := range todo {
		sem <- struct{}{}
		wg.Add(1)
		go func() {
			defer func() { <-sem; wg.Done() }()
			do(ctx)
		}()
	}
	wg.Wait()
}

// fetch reads one object: from the cache, else (dry) noted for the next level, else (live) now.
func fetch[T any](ctx context.Context, f *fetcher, path string, q url.Values) (T, error) {
	q = cloneValues(q)
	key := cacheKey(path, q)
	if e, ok := f.lookup(key); ok {
		v, _ := e.val.(T)
		return v, e.err
	}
	do := func(ctx context.Context) (T, error) {
		var v T
		err := f.c.get(ctx, path, q, &v)
		f.store(key, v, err)
		return v, err
	}
	if f.dry {
		f.note(key, func(ctx context.Context) { _, _ = do(ctx) })
		var zero T
		return zero, errPending
	}
	return do(ctx)
}

// listPage is the NSX list envelope.
type listPage struct {
	Results     []json.RawMessage `json:"results"`
	ResultCount int               `json:"result_count"`
	Cursor      string            `json:"cursor"`
}

// pager follows a list's cursors. A list ends on a page without a cursor or without results, or
// once it holds the first page's result_count: a search's last page still carries a cursor (equal
// to result_count), and openstack/vmware-nsxlib (v3/lib.py search_all_*) and
// terraform-provider-nsxt (nsxt/policy_search.go searchLM) stop on result_count too.
type pager struct {
	seen             map[string]bool
	page, got, total int
}

func newPager() *pager { return &pager{seen: map[string]bool{}} }

// next says whether the list goes on after lp, and the error when its cursor goes round in circles.
func (p *pager) next(path string, lp listPage) (bool, error) {
	if p.page == 0 {
		p.total = lp.ResultCount // set only on the first page, the reference says
	}
	p.page++
	p.got += len(lp.Results)
	if lp.Cursor == "" || len(lp.Results) == 0 || (p.total > 0 && p.got >= p.total) {
		return false, nil
	}
	if p.seen[lp.Cursor] || p.page > maxPages {
		return false, fmt.Errorf("NSX Manager's GET %s keeps paging (cursor %q repeats): stopped after %d pages", path, lp.Cursor, p.page)
	}
	p.seen[lp.Cursor] = true
	return true, nil
}

// page reads one page of a list. A page noted in a dry round is fetched with the pages after it:
// following cursors is sequential anyway, and it costs no extra round.
func (f *fetcher) page(ctx context.Context, path string, q url.Values) (listPage, error) {
	q = cloneValues(q)
	key := cacheKey(path, q)
	if e, ok := f.lookup(key); ok {
		v, _ := e.val.(listPage)
		return v, e.err
	}
	get := func(ctx context.Context, q url.Values) (listPage, error) {
		var lp listPage
		err := f.c.get(ctx, path, q, &lp)
		f.store(cacheKey(path, q), lp, err)
		return lp, err
	}
	if !f.dry {
		return get(ctx, q)
	}
	f.note(key, func(ctx context.Context) {
		pg := newPager()
		for {
			lp, err := get(ctx, q)
			if err != nil {
				return
			}
			if more, _ := pg.next(path, lp); !more {
				return
			}
			q = cloneValues(q)
			q.Set("cursor", lp.Cursor)
			if _, ok := f.lookup(cacheKey(path, q)); ok {
				return
			}
		}
	})
	return listPage{}, errPending
}

// list reads every page of a list API, following cursor.
func list[T any](ctx context.Context, f *fetcher, path string, q url.Values) ([]T, error) {
	qq := cloneValues(q)
	qq.Set("page_size", strconv.Itoa(f.c.cfg.PageSize))
	var out []T
	pg := newPager()
	for {
		lp, err := f.page(ctx, path, qq)
		if err != nil {
			return out, err
		}
		xs, err := decodePage[T](f, cacheKey(path, qq), lp)
		if err != nil {
			return out, fmt.Errorf("NSX Manager's GET %s returned an entry that does not decode: %w", path, err)
		}
		out = append(out, xs...)
		more, err := pg.next(path, lp)
		if !more {
			return out, err
		}
		qq.Set("cursor", lp.Cursor)
	}
}

// decodePage decodes a page's entries as T, once per page and type (the entries are shared:
// callers copy, never change them).
func decodePage[T any](f *fetcher, key string, lp listPage) ([]T, error) {
	key = fmt.Sprintf("%T\x00%s", *new(T), key)
	f.mu.Lock()
	v, ok := f.decoded[key]
	f.mu.Unlock()
	if ok {
		return v.([]T), nil
	}
	xs := make([]T, 0, len(lp.Results))
	for _, raw := range lp.Results {
		var x T
		if err := json.Unmarshal(raw, &x); err != nil {
			return nil, err
		}
		xs = append(xs, x)
	}
	f.mu.Lock()
	f.decoded[key] = xs
	f.mu.Unlock()
	return xs, nil
}
