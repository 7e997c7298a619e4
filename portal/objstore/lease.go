package objstore

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"path"
	"strings"
	"sync"
	"time"

	"github.com/caddyserver/certmagic"
	"github.com/minio/minio-go/v7"
)

// A lease is a time-limited claim on a name, kept as an object and taken
// and renewed only with conditional writes — created only when absent
// (If-None-Match: *), renewed or taken over only when unchanged since it
// was read (If-Match: its ETag) — the scheme Litestream's S3 leaser uses:
// of two nodes racing for one name, the store lets exactly one write win.
// A holder whose renewal is refused has lost it and must stop at once.

// Lease errors.
var (
	ErrLeaseHeld = errors.New("the lease is held by another")
	ErrLeaseLost = errors.New("the lease was lost")
)

// Lease is one holder's claim on a name.
type Lease struct {
	s      *Store
	key    string
	holder string
	ttl    time.Duration
	// Info is kept with the lease for others to read (ReadLease): a
	// cluster node's address.
	Info    string
	mu      sync.Mutex
	etag    string
	expires time.Time
}

type leaseBody struct {
	Holder  string    `json:"holder"`
	Expires time.Time `json:"expires"`
	Info    string    `json:"info,omitempty"`
}

// ReadLease is name's lease as stored: who holds it, what they keep with
// it, and until when (a zero holder: nobody has ever held it).
func (s *Store) ReadLease(ctx context.Context, name string) (holder, info string, expires time.Time, err error) {
	l := &Lease{s: s, key: path.Join(s.cfg.Prefix, "leases", name)}
	b, _, err := l.read(ctx)
	if errors.Is(err, fs.ErrNotExist) {
		return "", "", time.Time{}, nil
	}
	return b.Holder, b.Info, b.Expires, err
}

// Lease is holder's claim on name, good for ttl once acquired or renewed.
func (s *Store) Lease(name, holder string, ttl time.Duration) *Lease {
	return &Lease{s: s, key: path.Join(s.cfg.Prefix, "leases", name), holder: holder, ttl: ttl}
}

func isPrecondition(err error) bool {
	if err == nil {
		return false
	}
	er := minio.ToErrorResponse(err)
	var ep *minio.ErrorResponse
	if errors.As(err, &ep) && ep != nil {
		er = *ep
	}
	return er.StatusCode == 412 || er.Code == "PreconditionFailed" || er.StatusCode == 409 || er.Code == "ConditionalRequestConflict" ||
		strings.Contains(err.Error(), "pre-conditions you specified did not hold")
}

// write puts the lease object under a condition: ifNone (create only) or
// ifMatch (an ETag it must still have).
func (l *Lease) write(ctx context.Context, expires time.Time, ifNone bool, ifMatch string) (string, error) {
	b, _ := json.Marshal(leaseBody{Holder: l.holder, Expires: expires, Info: l.Info})
	opts := minio.PutObjectOptions{ContentType: "application/json"}
	if ifNone {
		opts.SetMatchETagExcept("*")
	} else {
		opts.SetMatchETag(ifMatch)
	}
	info, err := l.s.c.PutObject(ctx, l.s.cfg.Bucket, l.key, bytes.NewReader(b), int64(len(b)), opts)
	if err != nil {
		return "", err
	}
	return strings.Trim(info.ETag, `"`), nil
}

// read is the lease as stored, with its ETag.
func (l *Lease) read(ctx context.Context) (leaseBody, string, error) {
	var b leaseBody
	obj, err := l.s.c.GetObject(ctx, l.s.cfg.Bucket, l.key, minio.GetObjectOptions{})
	if err != nil {
		return b, "", err
	}
	defer obj.Close()
	info, err := obj.Stat()
	if err != nil {
		return b, "", notExist("lease", l.key, err)
	}
	data, err := io.ReadAll(io.LimitReader(obj, 4096))
	if err != nil {
		return b, "", err
	}
	_ = json.Unmarshal(data, &b)
	return b, strings.Trim(info.ETag, `"`), nil
}

// Acquire takes the lease: when nobody holds it, when its holder let it
// expire, or when it is already this holder's.
func (l *Lease) Acquire(ctx context.Context) error {
	l.mu.Lock()
	defer l.mu.Unlock()
	exp := time.Now().Add(l.ttl)
	etag, err := l.write(ctx, exp, true, "")
	if err == nil {
		l.etag, l.expires = etag, exp
		return nil
	}
	if !isPrecondition(err) {
		return fmt.Errorf("lease %s: %w", l.key, err)
	}
	cur, curTag, err := l.read(ctx)
	if errors.Is(err, fs.ErrNotExist) || isPrecondition(err) {
		// Released, or written again, while it was read (the reader's
		// later requests carry the first one's ETag): the next try decides.
		return ErrLeaseHeld
	}
	if err != nil {
		return fmt.Errorf("lease %s: %w", l.key, err)
	}
	if cur.Holder != l.holder && time.Now().Before(cur.Expires) {
		return ErrLeaseHeld
	}
	// Expired, or ours from before: taken over only if nobody else wrote
	// it since it was read.
	etag, err = l.write(ctx, exp, false, curTag)
	if isPrecondition(err) {
		return ErrLeaseHeld
	}
	if err != nil {
		return fmt.Errorf("lease %s: %w", l.key, err)
	}
	l.etag, l.expires = etag, exp
	return nil
}

// Renew extends the lease; ErrLeaseLost when another took it meanwhile
// (the holder must stop writing at once).
func (l *Lease) Renew(ctx context.Context) error {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.etag == "" {
		return ErrLeaseLost
	}
	exp := time.Now().Add(l.ttl)
	etag, err := l.write(ctx, exp, false, l.etag)
	if isPrecondition(err) {
		l.etag = ""
		return ErrLeaseLost
	}
	if err != nil {
		return fmt.Errorf("lease %s: %w", l.key, err)
	}
	l.etag, l.expires = etag, exp
	return nil
}

// Held says whether the lease is this holder's and unexpired by its own
// clock.
func (l *Lease) Held() bool {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.etag != "" && time.Now().Before(l.expires)
}

// Release lets the lease go at once (by writing it expired, only if it is
// still ours).
func (l *Lease) Release(ctx context.Context) error {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.etag == "" {
		return nil
	}
	_, err := l.write(ctx, time.Time{}, false, l.etag)
	l.etag = ""
	if isPrecondition(err) {
		return nil // another holds it already
	}
	return err
}

// CertStorage keeps TLS certificates (certmagic's storage) in the store,
// so every node serving the portals has them; its locks are leases.
type CertStorage struct {
	s      *Store
	holder string
	mu     sync.Mutex
	locks  map[string]*Lease
}

// CertStorage is certmagic's storage under PREFIX/certs, locking as holder.
func (s *Store) CertStorage(holder string) *CertStorage {
	return &CertStorage{s: s, holder: holder, locks: map[string]*Lease{}}
}

var _ certmagic.Storage = (*CertStorage)(nil)

func (c *CertStorage) key(k string) string { return path.Join(c.s.cfg.Prefix, "certs", k) }

// Lock waits until this node holds name's lease (two minutes at a time).
func (c *CertStorage) Lock(ctx context.Context, name string) error {
	l := c.s.Lease(path.Join("certs", name), c.holder, 2*time.Minute)
	for {
		err := l.Acquire(ctx)
		if err == nil {
			c.mu.Lock()
			c.locks[name] = l
			c.mu.Unlock()
			return nil
		}
		if !errors.Is(err, ErrLeaseHeld) {
			return err
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(time.Second):
		}
	}
}

// Unlock releases name's lease.
func (c *CertStorage) Unlock(ctx context.Context, name string) error {
	c.mu.Lock()
	l := c.locks[name]
	delete(c.locks, name)
	c.mu.Unlock()
	if l == nil {
		return fmt.Errorf("%s is not locked here", name)
	}
	return l.Release(ctx)
}

func (c *CertStorage) Store(ctx context.Context, key string, value []byte) error {
	_, err := c.s.c.PutObject(ctx, c.s.cfg.Bucket, c.key(key), bytes.NewReader(value), int64(len(value)), minio.PutObjectOptions{})
	return err
}

func (c *CertStorage) Load(ctx context.Context, key string) ([]byte, error) {
	obj, err := c.s.c.GetObject(ctx, c.s.cfg.Bucket, c.key(key), minio.GetObjectOptions{})
	if err != nil {
		return nil, notExist("load", key, err)
	}
	defer obj.Close()
	b, err := io.ReadAll(obj)
	if err != nil {
		return nil, notExist("load", key, err)
	}
	return b, nil
}

func (c *CertStorage) Delete(ctx context.Context, key string) error {
	err := c.s.c.RemoveObject(ctx, c.s.cfg.Bucket, c.key(key), minio.RemoveObjectOptions{})
	return notExist("delete", key, err)
}

func (c *CertStorage) Exists(ctx context.Context, key string) bool {
	_, err := c.s.c.StatObject(ctx, c.s.cfg.Bucket, c.key(key), minio.StatObjectOptions{})
	return err == nil
}

func (c *CertStorage) List(ctx context.Context, p string, recursive bool) ([]string, error) {
	prefix := c.key(p) + "/"
	root := c.key("") + "/"
	var out []string
	for o := range c.s.c.ListObjectsIter(ctx, c.s.cfg.Bucket, minio.ListObjectsOptions{Prefix: prefix, Recursive: recursive}) {
		if o.Err != nil {
			return nil, o.Err
		}
		out = append(out, strings.TrimSuffix(strings.TrimPrefix(o.Key, root), "/"))
	}
	if len(out) == 0 {
		return nil, &fs.PathError{Op: "list", Path: p, Err: fs.ErrNotExist}
	}
	return out, nil
}

func (c *CertStorage) Stat(ctx context.Context, key string) (certmagic.KeyInfo, error) {
	info, err := c.s.c.StatObject(ctx, c.s.cfg.Bucket, c.key(key), minio.StatObjectOptions{})
	if err != nil {
		return certmagic.KeyInfo{}, notExist("stat", key, err)
	}
	return certmagic.KeyInfo{Key: key, Modified: info.LastModified, Size: info.Size, IsTerminal: true}, nil
}
