package provisioner

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"

	"github.com/minio/minio-go/v7"

	"portaldesk/portal"
	"portaldesk/portal/objstore"
)

// MigrateStats is how far a storage migration went.
type MigrateStats struct {
	Portals, Files, Copied, Skipped int
	Bytes                           int64 // copied
}

// MigrateStorage copies every portal's files from its directory under
// dataDir into the object store. Each object carries the SHA-256 of its
// file; one already there with the same sum and size is skipped, so a
// migration stopped halfway goes on where it was, and one run while the
// service still serves from disk is run once more after the switch to
// take what came meanwhile. Each upload is checked by the server against
// its MD5 and then read back as stored (size and sum). progress is told
// after each file.
func MigrateStorage(ctx context.Context, dataDir string, st *objstore.Store, progress func(slug string, s MigrateStats)) (MigrateStats, error) {
	var s MigrateStats
	portals, err := os.ReadDir(filepath.Join(dataDir, "portals"))
	if err != nil {
		return s, err
	}
	c, bucket := st.Client(), st.Config().Bucket
	for _, pd := range portals {
		if !pd.IsDir() {
			continue
		}
		slug := pd.Name()
		root := filepath.Join(dataDir, "portals", slug, portal.FilesDir)
		s.Portals++
		err := filepath.WalkDir(root, func(path string, d fs.DirEntry, err error) error {
			if err != nil {
				if os.IsNotExist(err) && path == root {
					return filepath.SkipDir
				}
				return err
			}
			rel, _ := filepath.Rel(root, path)
			if d.IsDir() {
				if rel == "tmp" {
					return filepath.SkipDir // uploads being staged: not files yet
				}
				return nil
			}
			s.Files++
			sum, size, err := FileSHA256(path)
			if err != nil {
				return err
			}
			key := st.Key(slug, filepath.ToSlash(rel))
			if info, err := c.StatObject(ctx, bucket, key, minio.StatObjectOptions{}); err == nil && info.Size == size && info.UserMetadata["Sha256"] == sum {
				s.Skipped++
				progress(slug, s)
				return nil
			}
			f, err := os.Open(path)
			if err != nil {
				return err
			}
			_, err = c.PutObject(ctx, bucket, key, f, size, minio.PutObjectOptions{SendContentMd5: true, UserMetadata: map[string]string{"sha256": sum}})
			f.Close()
			if err != nil {
				return fmt.Errorf("%s/%s: %w", slug, rel, err)
			}
			info, err := c.StatObject(ctx, bucket, key, minio.StatObjectOptions{})
			if err != nil || info.Size != size || info.UserMetadata["Sha256"] != sum {
				return fmt.Errorf("%s/%s: the stored object does not match the file", slug, rel)
			}
			s.Copied++
			s.Bytes += size
			progress(slug, s)
			return nil
		})
		if err != nil {
			return s, err
		}
	}
	return s, nil
}

// FileSHA256 is a file's SHA-256 (hex) and size.
func FileSHA256(path string) (string, int64, error) {
	f, err := os.Open(path)
	if err != nil {
		return "", 0, err
	}
	defer f.Close()
	h := sha256.New()
	n, err := io.Copy(h, f)
	return hex.EncodeToString(h.Sum(nil)), n, err
}
