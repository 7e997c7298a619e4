// Package objstore keeps a portal's files in S3-compatible object storage
// (AWS S3, Yandex Object Storage, SeaweedFS, Ceph, Garage, versitygw …)
// behind the afero.Fs the portal already uses, with minio-go: a file
// written is streamed up as it is written (a part at a time, never whole
// in memory), a file read is streamed down with ranges (ReadAt, Seek),
// renames are server-side copies. Directories are only key prefixes.
package objstore

import (
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"net/url"
	"os"
	"path"
	"strings"
	"sync"
	"time"

	"github.com/minio/minio-go/v7"
	"github.com/minio/minio-go/v7/pkg/credentials"
	"github.com/spf13/afero"
)

// Config is where the files are: parsed from
// s3://BUCKET/PREFIX?endpoint=HOST:PORT&region=R&insecure=1&presign=10m&credentials=FILE.
type Config struct {
	Bucket, Prefix string
	Endpoint       string        // default s3.amazonaws.com
	Region         string        // default us-east-1
	Insecure       bool          // plain http (a server on loopback)
	Presign        time.Duration // >0: downloads are redirected to presigned addresses this long
	CredFile       string        // an AWS credentials file; else the AWS_* environment
}

// Parse reads a storage URL.
func Parse(raw string) (Config, error) {
	u, err := url.Parse(raw)
	if err != nil || u.Scheme != "s3" || u.Host == "" {
		return Config{}, fmt.Errorf("storage %q: write it as s3://bucket/prefix?endpoint=host:port", raw)
	}
	q := u.Query()
	c := Config{Bucket: u.Host, Prefix: strings.Trim(u.Path, "/"), Endpoint: q.Get("endpoint"), Region: q.Get("region"),
		Insecure: q.Get("insecure") == "1" || q.Get("insecure") == "true", CredFile: q.Get("credentials")}
	if c.Endpoint == "" {
		c.Endpoint = "s3.amazonaws.com"
	}
	if c.Region == "" {
		c.Region = "us-east-1"
	}
	if p := q.Get("presign"); p != "" {
		if c.Presign, err = time.ParseDuration(p); err != nil || c.Presign <= 0 || c.Presign > 7*24*time.Hour {
			return Config{}, fmt.Errorf("storage %q: presign is a duration up to 168h, like 10m", raw)
		}
	}
	return c, nil
}

// Store is a bucket (under a prefix) with its client.
type Store struct {
	cfg Config
	c   *minio.Client
}

// Open connects to the store and checks that its bucket is there.
func Open(ctx context.Context, cfg Config) (*Store, error) {
	creds := credentials.NewChainCredentials([]credentials.Provider{
		&credentials.EnvAWS{}, &credentials.FileAWSCredentials{Filename: cfg.CredFile}, &credentials.EnvMinio{}})
	c, err := minio.New(cfg.Endpoint, &minio.Options{Creds: creds, Secure: !cfg.Insecure, Region: cfg.Region})
	if err != nil {
		return nil, fmt.Errorf("storage: %w", err)
	}
	ok, err := c.BucketExists(ctx, cfg.Bucket)
	if err != nil {
		return nil, fmt.Errorf("storage: bucket %s: %w", cfg.Bucket, err)
	}
	if !ok {
		return nil, fmt.Errorf("storage: there is no bucket %s", cfg.Bucket)
	}
	return &Store{cfg: cfg, c: c}, nil
}

// Config is the store's configuration.
func (s *Store) Config() Config { return s.cfg }

// Client is the store's minio client (for the migration's listing).
func (s *Store) Client() *minio.Client { return s.c }

// Key is the object key of a file of a portal.
func (s *Store) Key(portal, name string) string {
	return path.Join(s.cfg.Prefix, "portals", portal, "files", path.Clean("/" + name)[1:])
}

// Fs is one portal's files.
func (s *Store) Fs(portal string) *Fs {
	return &Fs{s: s, root: path.Join(s.cfg.Prefix, "portals", portal, "files")}
}

// Fs is an afero.Fs over a key prefix.
type Fs struct {
	s    *Store
	root string
}

var _ afero.Fs = (*Fs)(nil)

func (f *Fs) key(name string) string { return path.Join(f.root, path.Clean("/" + name)[1:]) }

func ctx() context.Context { return context.Background() }

// notExist turns S3's "no such key" into fs.ErrNotExist.
func notExist(op, name string, err error) error {
	if err == nil {
		return nil
	}
	var er minio.ErrorResponse
	if errors.As(err, &er) && (er.Code == "NoSuchKey" || er.StatusCode == 404) {
		return &fs.PathError{Op: op, Path: name, Err: fs.ErrNotExist}
	}
	return &fs.PathError{Op: op, Path: name, Err: err}
}

// Create starts writing name; the object appears whole when the file is
// closed, or not at all.
func (f *Fs) Create(name string) (afero.File, error) {
	pr, pw := io.Pipe()
	w := &writer{name: name, pw: pw, done: make(chan struct{})}
	go func() {
		_, err := f.s.c.PutObject(ctx(), f.s.cfg.Bucket, f.key(name), pr, -1, minio.PutObjectOptions{PartSize: 16 << 20, DisableContentSha256: true})
		pr.CloseWithError(err)
		w.err = err
		close(w.done)
	}()
	return w, nil
}

// Mkdir and MkdirAll make nothing: a key prefix needs no directory.
func (f *Fs) Mkdir(string, os.FileMode) error    { return nil }
func (f *Fs) MkdirAll(string, os.FileMode) error { return nil }

// Open opens name for reading.
func (f *Fs) Open(name string) (afero.File, error) {
	info, err := f.s.c.StatObject(ctx(), f.s.cfg.Bucket, f.key(name), minio.StatObjectOptions{})
	if err != nil {
		return nil, notExist("open", name, err)
	}
	obj, err := f.s.c.GetObject(ctx(), f.s.cfg.Bucket, f.key(name), minio.GetObjectOptions{})
	if err != nil {
		return nil, notExist("open", name, err)
	}
	return &reader{name: name, obj: obj, info: fileInfo{name: path.Base(name), size: info.Size, mod: info.LastModified}}, nil
}

// OpenFile opens for reading, or for writing a new whole object (objects
// are not appended to or changed in place).
func (f *Fs) OpenFile(name string, flag int, perm os.FileMode) (afero.File, error) {
	if flag&(os.O_WRONLY|os.O_RDWR) == 0 {
		return f.Open(name)
	}
	if flag&os.O_APPEND != 0 || flag&os.O_RDWR != 0 {
		return nil, &fs.PathError{Op: "open", Path: name, Err: errors.ErrUnsupported}
	}
	return f.Create(name)
}

// Remove deletes name.
func (f *Fs) Remove(name string) error {
	return notExist("remove", name, f.s.c.RemoveObject(ctx(), f.s.cfg.Bucket, f.key(name), minio.RemoveObjectOptions{}))
}

// RemoveAll deletes every object under name.
func (f *Fs) RemoveAll(name string) error {
	prefix := f.key(name) + "/"
	for o := range f.s.c.ListObjectsIter(ctx(), f.s.cfg.Bucket, minio.ListObjectsOptions{Prefix: prefix, Recursive: true}) {
		if o.Err != nil {
			return o.Err
		}
		if err := f.s.c.RemoveObject(ctx(), f.s.cfg.Bucket, o.Key, minio.RemoveObjectOptions{}); err != nil {
			return err
		}
	}
	return f.Remove(name)
}

// Rename copies old to new on the server, then deletes old.
func (f *Fs) Rename(oldname, newname string) error {
	_, err := f.s.c.CopyObject(ctx(), minio.CopyDestOptions{Bucket: f.s.cfg.Bucket, Object: f.key(newname)},
		minio.CopySrcOptions{Bucket: f.s.cfg.Bucket, Object: f.key(oldname)})
	if err != nil {
		return notExist("rename", oldname, err)
	}
	return f.Remove(oldname)
}

// Stat describes name.
func (f *Fs) Stat(name string) (os.FileInfo, error) {
	info, err := f.s.c.StatObject(ctx(), f.s.cfg.Bucket, f.key(name), minio.StatObjectOptions{})
	if err != nil {
		return nil, notExist("stat", name, err)
	}
	return fileInfo{name: path.Base(name), size: info.Size, mod: info.LastModified}, nil
}

func (f *Fs) Name() string                               { return "s3" }
func (f *Fs) Chmod(string, os.FileMode) error            { return nil }
func (f *Fs) Chown(string, int, int) error               { return nil }
func (f *Fs) Chtimes(string, time.Time, time.Time) error { return nil }
func (f *Fs) String() string                             { return "s3://" + f.s.cfg.Bucket + "/" + f.root }

// Presign is a short-lived address that downloads name as filename with
// ctype; ok false when the store does not redirect downloads.
func (f *Fs) Presign(name, filename, ctype string, attachment bool) (string, bool, error) {
	if f.s.cfg.Presign <= 0 {
		return "", false, nil
	}
	q := presignParams(filename, ctype)
	if !attachment {
		q.Set("response-content-disposition", "inline; filename*=UTF-8''"+url.PathEscape(filename))
	}
	u, err := f.s.c.PresignedGetObject(ctx(), f.s.cfg.Bucket, f.key(name), f.s.cfg.Presign, q)
	if err != nil {
		return "", false, err
	}
	return u.String(), true, nil
}

func presignParams(filename, ctype string) url.Values {
	return url.Values{"response-content-type": {ctype}, "response-content-disposition": {"attachment; filename*=UTF-8''" + url.PathEscape(filename)}}
}

type fileInfo struct {
	name string
	size int64
	mod  time.Time
}

func (i fileInfo) Name() string       { return i.name }
func (i fileInfo) Size() int64        { return i.size }
func (i fileInfo) Mode() os.FileMode  { return 0o640 }
func (i fileInfo) ModTime() time.Time { return i.mod }
func (i fileInfo) IsDir() bool        { return false }
func (i fileInfo) Sys() any           { return nil }

// writer streams an object up as it is written.
type writer struct {
	name   string
	pw     *io.PipeWriter
	done   chan struct{}
	err    error
	n      int64
	closed sync.Once
}

func (w *writer) Write(p []byte) (int, error) {
	n, err := w.pw.Write(p)
	w.n += int64(n)
	return n, err
}
func (w *writer) WriteString(s string) (int, error) { return w.Write([]byte(s)) }

// Sync is a no-op: the object is durable once Close returns.
func (w *writer) Sync() error { return nil }

// Close finishes the upload and reports how it went.
func (w *writer) Close() error {
	w.closed.Do(func() { w.pw.Close() })
	<-w.done
	return w.err
}
func (w *writer) Name() string { return w.name }
func (w *writer) Stat() (os.FileInfo, error) {
	return fileInfo{name: path.Base(w.name), size: w.n, mod: time.Now()}, nil
}
func (w *writer) Read([]byte) (int, error)           { return 0, errors.ErrUnsupported }
func (w *writer) ReadAt([]byte, int64) (int, error)  { return 0, errors.ErrUnsupported }
func (w *writer) Seek(int64, int) (int64, error)     { return 0, errors.ErrUnsupported }
func (w *writer) WriteAt([]byte, int64) (int, error) { return 0, errors.ErrUnsupported }
func (w *writer) Truncate(int64) error               { return errors.ErrUnsupported }
func (w *writer) Readdir(int) ([]os.FileInfo, error) { return nil, errors.ErrUnsupported }
func (w *writer) Readdirnames(int) ([]string, error) { return nil, errors.ErrUnsupported }

// reader streams an object down: reads, ranges, seeks.
type reader struct {
	name string
	obj  *minio.Object
	info fileInfo
}

func (r *reader) Read(p []byte) (int, error)              { return r.obj.Read(p) }
func (r *reader) ReadAt(p []byte, off int64) (int, error) { return r.obj.ReadAt(p, off) }
func (r *reader) Seek(off int64, whence int) (int64, error) {
	return r.obj.Seek(off, whence)
}
func (r *reader) Close() error                       { return r.obj.Close() }
func (r *reader) Name() string                       { return r.name }
func (r *reader) Stat() (os.FileInfo, error)         { return r.info, nil }
func (r *reader) Write([]byte) (int, error)          { return 0, errors.ErrUnsupported }
func (r *reader) WriteString(string) (int, error)    { return 0, errors.ErrUnsupported }
func (r *reader) WriteAt([]byte, int64) (int, error) { return 0, errors.ErrUnsupported }
func (r *reader) Truncate(int64) error               { return errors.ErrUnsupported }
func (r *reader) Sync() error                        { return nil }
func (r *reader) Readdir(int) ([]os.FileInfo, error) { return nil, errors.ErrUnsupported }
func (r *reader) Readdirnames(int) ([]string, error) { return nil, errors.ErrUnsupported }
