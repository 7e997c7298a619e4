package objstore

import (
	"context"
	"errors"
	"fmt"
	"path"
	"strings"

	"github.com/minio/minio-go/v7"
)

// Backups of portals whose files are in the store are kept in it too:
// PREFIX/backups/SLUG/STAMP/ holds the snapshot's database, its manifest
// and a copy of every file, made by the store itself (a server-side copy:
// no byte passes through the node). Attachments never change in place,
// but a deleted ticket deletes its files: the copy is what a restore
// brings back.

// BackupKey is the key of name in portal's snapshot stamp.
func (s *Store) BackupKey(portal, stamp, name string) string {
	return path.Join(s.cfg.Prefix, "backups", portal, stamp, path.Clean("/" + name)[1:])
}

// Object is a stored file: its name under a prefix, size and ETag.
type Object struct {
	Name string
	Size int64
	ETag string
}

// PortalFiles lists a portal's files.
func (s *Store) PortalFiles(ctx context.Context, portal string) ([]Object, error) {
	return s.list(ctx, s.Key(portal, "")+"/")
}

// BackupFiles lists the files of portal's snapshot stamp (under files/).
func (s *Store) BackupFiles(ctx context.Context, portal, stamp string) ([]Object, error) {
	return s.list(ctx, s.BackupKey(portal, stamp, "files")+"/")
}

func (s *Store) list(ctx context.Context, prefix string) ([]Object, error) {
	var out []Object
	for o := range s.c.ListObjectsIter(ctx, s.cfg.Bucket, minio.ListObjectsOptions{Prefix: prefix, Recursive: true}) {
		if o.Err != nil {
			return nil, o.Err
		}
		out = append(out, Object{Name: strings.TrimPrefix(o.Key, prefix), Size: o.Size, ETag: strings.Trim(o.ETag, `"`)})
	}
	return out, nil
}

// CopyKey copies the object at src to dst inside the store and returns
// the copy's size and ETag.
func (s *Store) CopyKey(ctx context.Context, src, dst string) (Object, error) {
	info, err := s.c.CopyObject(ctx, minio.CopyDestOptions{Bucket: s.cfg.Bucket, Object: dst}, minio.CopySrcOptions{Bucket: s.cfg.Bucket, Object: src})
	if err != nil {
		return Object{}, fmt.Errorf("copy %s: %w", src, err)
	}
	st, err := s.c.StatObject(ctx, s.cfg.Bucket, dst, minio.StatObjectOptions{})
	if err != nil {
		return Object{}, fmt.Errorf("copy %s: %w", src, err)
	}
	_ = info
	return Object{Name: dst, Size: st.Size, ETag: strings.Trim(st.ETag, `"`)}, nil
}

// StatKey is the object at key.
func (s *Store) StatKey(ctx context.Context, key string) (Object, error) {
	st, err := s.c.StatObject(ctx, s.cfg.Bucket, key, minio.StatObjectOptions{})
	if err != nil {
		return Object{}, notExist("stat", key, err)
	}
	return Object{Name: key, Size: st.Size, ETag: strings.Trim(st.ETag, `"`)}, nil
}

// UploadFile puts a local file at key.
func (s *Store) UploadFile(ctx context.Context, key, localPath string) error {
	_, err := s.c.FPutObject(ctx, s.cfg.Bucket, key, localPath, minio.PutObjectOptions{ContentType: "application/octet-stream"})
	return err
}

// RemoveBackup deletes portal's snapshot stamp from the store.
func (s *Store) RemoveBackup(ctx context.Context, portal, stamp string) error {
	prefix := s.BackupKey(portal, stamp, "") + "/"
	objs := make(chan minio.ObjectInfo)
	go func() {
		defer close(objs)
		for o := range s.c.ListObjectsIter(ctx, s.cfg.Bucket, minio.ListObjectsOptions{Prefix: prefix, Recursive: true}) {
			if o.Err == nil {
				objs <- o
			}
		}
	}()
	var errs []error
	for r := range s.c.RemoveObjects(ctx, s.cfg.Bucket, objs, minio.RemoveObjectsOptions{}) {
		errs = append(errs, r.Err)
	}
	return errors.Join(errs...)
}
