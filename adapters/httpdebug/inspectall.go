package httpdebug

import (
	"context"
	"errors"
	"sync"

	"github.com/bondcni/bond/app"
	"github.com/bondcni/bond/domain"
)

// inspectParallel is how many bonds are read at once; each is a handful of
// netlink requests in its own pod netns.
const inspectParallel = 4

// inspectAll lists the records and inspects every bond, a few at once. An
// attachment removed by a DEL meanwhile is left out; one that fails to be
// read is reported as unreadable. The error is only the listing's.
func inspectAll(ctx context.Context, q Queries) ([]app.Inspection, error) {
	recs, err := q.ListAttachments(ctx)
	if err != nil {
		return nil, err
	}
	ins := make([]*app.Inspection, len(recs))
	var wg sync.WaitGroup
	sem := make(chan struct{}, inspectParallel)
	for i, rec := range recs {
		wg.Add(1)
		go func() {
			defer wg.Done()
			select {
			case sem <- struct{}{}:
			case <-ctx.Done():
				in := app.Inspection{Attachment: rec, Netns: app.NetnsInvalid, BondError: "not read: " + ctx.Err().Error()}
				ins[i] = &in
				return
			}
			defer func() { <-sem }()
			in, err := q.Inspect(ctx, rec.ID)
			if err == nil {
				ins[i] = &in
			} else if !errors.Is(err, domain.ErrNotFound) {
				in := app.Inspection{Attachment: rec, Netns: app.NetnsInvalid, BondError: err.Error()}
				ins[i] = &in
			}
		}()
	}
	wg.Wait()
	out := make([]app.Inspection, 0, len(recs))
	for _, in := range ins {
		if in != nil {
			out = append(out, *in)
		}
	}
	return out, nil
}
