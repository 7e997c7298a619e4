package portal

import (
	"bytes"
	"context"
	"crypto/rand"
	"database/sql"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"path"
	"path/filepath"
	"strconv"
	"strings"
	"unicode/utf8"

	"github.com/gabriel-vasile/mimetype"

	"portaldesk/templates/i18n"
)

// Attachment is a file on a ticket or a message.
type Attachment struct {
	ID          int64  `json:"id"`
	TicketID    int64  `json:"ticket"`
	MessageID   int64  `json:"message,omitempty"`
	Name        string `json:"name"`
	ContentType string `json:"content_type"`
	Size        int64  `json:"size"`
	Internal    bool   `json:"-"`
	CreatedAt   int64  `json:"created_at"`
	path        string
}

// IsImage reports whether the file can be previewed as a picture.
func (a *Attachment) IsImage() bool {
	switch a.ContentType {
	case "image/png", "image/jpeg", "image/gif", "image/webp":
		return true
	}
	return false
}

// Limits is what the admin's settings and the tariff allow for files.
type Limits struct {
	MaxFiles     int   `json:"max_files"`      // per ticket
	MaxFileBytes int64 `json:"max_file_bytes"` // per file
	DiskQuota    int64 `json:"disk_quota"`     // all attachments of the portal
}

// FileLimits reads the limits in force.
func (p *Portal) FileLimits(ctx context.Context) Limits {
	files, _ := strconv.Atoi(p.Setting(ctx, "max_files", "10"))
	mb, _ := strconv.ParseFloat(p.Setting(ctx, "max_file_mb", "20"), 64)
	return Limits{MaxFiles: files, MaxFileBytes: int64(mb * (1 << 20)), DiskQuota: p.Plan().DiskQuotaBytes}
}

// ErrQuota is a limit on files that an upload would pass.
type ErrQuota struct {
	Code    string // too_many_files, file_too_large, quota_exceeded
	Message string
}

// Error is the message a person reads.
func (e *ErrQuota) Error() string { return e.Message }

// filesUsed is the portal's files that count against its disk quota:
// attachments and the knowledge base's images.
const filesUsed = "(SELECT COALESCE(SUM(size), 0) FROM attachments) + (SELECT COALESCE(SUM(size), 0) FROM kb_images)"

// DiskUsage is the bytes of all files of the portal: attachments and the
// knowledge base's images.
func (p *Portal) DiskUsage(ctx context.Context) (int64, error) {
	var n int64
	err := p.q.QueryRow(ctx, "SELECT "+filesUsed).Scan(&n)
	return n, err
}

func newFilePath() string {
	b := make([]byte, 16)
	rand.Read(b)
	h := hex.EncodeToString(b)
	return path.Join(h[:2], h[2:])
}

// CleanName keeps a file name presentable: no directories, no control characters.
func CleanName(name string) string {
	name = Text(name)
	name = filepath.Base(strings.ReplaceAll(name, "\\", "/"))
	name = strings.Map(func(r rune) rune {
		if r < 32 || r == 127 || r == '"' {
			return -1
		}
		return r
	}, name)
	if name == "." || name == "/" || name == "" {
		name = "file"
	}
	for utf8.RuneCountInString(name) > 120 {
		_, size := utf8.DecodeLastRuneInString(name)
		name = name[:len(name)-size]
	}
	return name
}

// Files are the files of one request. Each is written to the portal's
// tmp directory as it arrives, checked against the per-file limit and the
// disk room left; attaching them — with a new ticket, a message, or to a
// ticket alone — keeps all of them in the one transaction that stores the
// rest of the request, or none. Discard removes whatever was not kept;
// calling it after a kept attach does nothing, so callers defer it.
type Files struct {
	p     *Portal
	lim   Limits
	used  int64 // the portal's attachments when the first file came (-1: none yet)
	bytes int64 // staged so far
	list  []stagedFile
	moved []string // final paths taken inside a transaction not yet committed
}

type stagedFile struct {
	name, ctype, tmp string
	size             int64
}

// NewFiles starts the files of one request.
func (p *Portal) NewFiles(ctx context.Context) *Files {
	return &Files{p: p, lim: p.FileLimits(ctx), used: -1}
}

// Len is the number of files staged.
func (f *Files) Len() int {
	if f == nil {
		return 0
	}
	return len(f.list)
}

func tooManyFiles(n int) error {
	return &ErrQuota{"too_many_files", fmt.Sprintf("A ticket can have at most %d files.", n)}
}

// Add writes one file, reading at most one byte past what it may take.
// A file over a limit is refused with the limit, naming the file; the
// files before it stay staged until Discard.
func (f *Files) Add(ctx context.Context, name string, r io.Reader) error {
	p, lim := f.p, f.lim
	name = CleanName(name)
	if err := p.writable(); err != nil {
		return err
	}
	if f.used < 0 {
		used, err := p.DiskUsage(ctx)
		if err != nil {
			return err
		}
		f.used = used
	}
	if lim.MaxFiles > 0 && len(f.list) >= lim.MaxFiles {
		return tooManyFiles(lim.MaxFiles)
	}
	room := lim.MaxFileBytes
	if left := lim.DiskQuota - f.used - f.bytes; lim.DiskQuota > 0 && left < room {
		room = left
		if room <= 0 {
			return &ErrQuota{"quota_exceeded", "The portal's disk space is used up: no more files can be added."}
		}
	}
	tmp := path.Join("tmp", newFilePath())
	if err := p.Fs.MkdirAll(path.Dir(tmp), 0o750); err != nil {
		return err
	}
	out, err := p.Fs.Create(tmp)
	if err != nil {
		return err
	}
	head := make([]byte, 512)
	n, _ := io.ReadFull(r, head)
	head = head[:n]
	written, err := io.Copy(out, io.LimitReader(io.MultiReader(bytes.NewReader(head), r), room+1))
	if err == nil {
		err = out.Sync()
	}
	if cerr := out.Close(); err == nil {
		err = cerr
	}
	switch {
	case err != nil:
		err = fmt.Errorf("store: attachment: %w", err)
	case written > room && room < lim.MaxFileBytes:
		err = &ErrQuota{"quota_exceeded", fmt.Sprintf("%s does not fit into the portal's remaining disk space.", name)}
	case written > room:
		err = &ErrQuota{"file_too_large", fmt.Sprintf("%s is larger than the limit of %s.", name, HumanBytes(lim.MaxFileBytes))}
	case written == 0:
		err = &FieldErrors{Fields: map[string]string{"file": fmt.Sprintf("%s is empty.", name)}}
	}
	if err != nil {
		p.Fs.Remove(tmp)
		return err
	}
	f.bytes += written
	f.list = append(f.list, stagedFile{name: name, ctype: sniff(head, name), tmp: tmp, size: written})
	return nil
}

// Discard removes the staged files and any moved by a transaction that
// did not commit. It is a no-op on nil and after keep.
func (f *Files) Discard() {
	if f == nil {
		return
	}
	for _, s := range f.list {
		f.p.Fs.Remove(s.tmp)
	}
	for _, m := range f.moved {
		f.p.Fs.Remove(m)
	}
	f.list, f.moved, f.bytes = nil, nil, 0
}

// keep forgets the files once the transaction that attached them committed.
func (f *Files) keep() {
	if f != nil {
		f.list, f.moved, f.bytes = nil, nil, 0
	}
}

// attach stores the staged files on ticket number (and on a message, when
// messageID is not 0) inside tp's transaction, checking the ticket's file
// count and the disk quota again under the write lock: two requests at
// once cannot both take the last room.
func (f *Files) attach(ctx context.Context, tp *Portal, actor *User, number, messageID int64, internal bool, now int64) ([]*Attachment, error) {
	if f.Len() == 0 {
		return nil, nil
	}
	lim := f.lim
	var count int
	var used int64
	if err := tp.q.QueryRow(ctx, "SELECT (SELECT COUNT(*) FROM attachments WHERE ticket_id = ?), "+filesUsed, number).Scan(&count, &used); err != nil {
		return nil, err
	}
	if lim.MaxFiles > 0 && count+len(f.list) > lim.MaxFiles {
		return nil, tooManyFiles(lim.MaxFiles)
	}
	if lim.DiskQuota > 0 && used+f.bytes > lim.DiskQuota {
		return nil, &ErrQuota{"quota_exceeded", "These files do not fit into the portal's remaining disk space."}
	}
	var msgID any
	if messageID != 0 {
		msgID = messageID
	}
	out := make([]*Attachment, 0, len(f.list))
	for _, s := range f.list {
		a := &Attachment{TicketID: number, MessageID: messageID, Name: s.name, ContentType: s.ctype, Size: s.size,
			Internal: internal, CreatedAt: now, path: newFilePath()}
		res, err := tp.q.Exec(ctx, `INSERT INTO attachments (ticket_id, message_id, uploader_id, name, content_type, size, path, internal, created_at)
			VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)`, number, msgID, actor.ID, a.Name, a.ContentType, a.Size, a.path, internal, a.CreatedAt)
		if err != nil {
			return nil, err
		}
		a.ID, _ = res.LastInsertId()
		if err := f.p.Fs.MkdirAll(path.Dir(a.path), 0o750); err != nil {
			return nil, err
		}
		if err := f.p.Fs.Rename(s.tmp, a.path); err != nil {
			return nil, err
		}
		f.moved = append(f.moved, a.path)
		out = append(out, a)
	}
	if _, err := tp.q.Exec(ctx, "UPDATE tickets SET files = files + ?, file_bytes = file_bytes + ?, updated_at = ? WHERE id = ?", len(out), f.bytes, now, number); err != nil {
		return nil, err
	}
	return out, nil
}

// AddAttachments stores files on a ticket (messageID 0) or on one of its
// messages: all of them, or — on any limit or failure — none.
func (p *Portal) AddAttachments(ctx context.Context, actor *User, number, messageID int64, files *Files) ([]*Attachment, error) {
	defer files.Discard()
	if err := p.writable(); err != nil {
		return nil, err
	}
	if _, err := p.Ticket(ctx, actor, number); err != nil {
		return nil, err
	}
	internal := false
	if messageID != 0 {
		var kind string
		var author int64
		err := p.q.QueryRow(ctx, "SELECT kind, COALESCE(author_id, 0) FROM messages WHERE id = ? AND ticket_id = ?", messageID, number).Scan(&kind, &author)
		if errors.Is(err, sql.ErrNoRows) || (kind == KindNote && !actor.IsStaff()) {
			return nil, &FieldErrors{Fields: map[string]string{"message": "No such message on this ticket."}}
		}
		if err != nil {
			return nil, err
		}
		if author != actor.ID && !actor.IsStaff() {
			return nil, ErrForbidden
		}
		internal = kind == KindNote
	}
	if files.Len() == 0 {
		return nil, &FieldErrors{Fields: map[string]string{"file": "Choose a file to upload."}}
	}
	var out []*Attachment
	err := p.Tx(ctx, func(tp *Portal) error {
		var err error
		out, err = files.attach(ctx, tp, actor, number, messageID, internal, p.Now().Unix())
		return err
	})
	if err != nil {
		return nil, err
	}
	files.keep()
	return out, nil
}

// AddAttachment stores one file, as AddAttachments.
func (p *Portal) AddAttachment(ctx context.Context, actor *User, number, messageID int64, name string, r io.Reader) (*Attachment, error) {
	files := p.NewFiles(ctx)
	defer files.Discard()
	if err := files.Add(ctx, name, r); err != nil {
		return nil, err
	}
	out, err := p.AddAttachments(ctx, actor, number, messageID, files)
	if err != nil {
		return nil, err
	}
	return out[0], nil
}

// sniff decides the type a file is served with from its bytes, never
// trusting the uploader (github.com/gabriel-vasile/mimetype); anything a
// browser could run or render as a page of the portal is served as
// plain bytes.
func sniff(head []byte, name string) string {
	m := mimetype.Detect(head)
	for x := m; x != nil; x = x.Parent() {
		if x.Is("text/html") || x.Is("text/xml") || x.Is("application/xml") || x.Is("image/svg+xml") || x.Is("text/javascript") {
			return "application/octet-stream"
		}
	}
	ct := m.String()
	if i := strings.IndexByte(ct, ';'); i >= 0 && !strings.HasPrefix(ct, "text/plain") {
		ct = ct[:i]
	}
	if ct == "application/octet-stream" && strings.HasSuffix(strings.ToLower(name), ".pdf") {
		return "application/pdf"
	}
	return ct
}

// HumanBytes formats a size for people.
func HumanBytes(n int64) string { return i18n.Bytes("en", n) }

const attCols = "id, ticket_id, COALESCE(message_id, 0), name, content_type, size, internal, created_at, path"

func scanAttachment(row interface{ Scan(...any) error }) (*Attachment, error) {
	a := &Attachment{}
	err := row.Scan(&a.ID, &a.TicketID, &a.MessageID, &a.Name, &a.ContentType, &a.Size, &a.Internal, &a.CreatedAt, &a.path)
	if errors.Is(err, sql.ErrNoRows) {
		return nil, ErrNotFound
	}
	return a, err
}

// Attachments lists the files of a ticket that actor may see.
func (p *Portal) Attachments(ctx context.Context, actor *User, number int64) ([]*Attachment, error) {
	q := "SELECT " + attCols + " FROM attachments WHERE ticket_id = ?"
	if !actor.IsStaff() {
		q += " AND internal = 0"
	}
	rows, err := p.q.Query(ctx, q+" ORDER BY id", number)
	if err != nil {
		return nil, fmt.Errorf("store: attachments of %d: %w", number, err)
	}
	defer rows.Close()
	var out []*Attachment
	for rows.Next() {
		a, err := scanAttachment(rows)
		if err != nil {
			return nil, err
		}
		out = append(out, a)
	}
	return out, rows.Err()
}

// attachmentFor is a file actor may see.
func (p *Portal) attachmentFor(ctx context.Context, actor *User, id int64) (*Attachment, error) {
	a, err := scanAttachment(p.q.QueryRow(ctx, "SELECT "+attCols+" FROM attachments WHERE id = ?", id))
	if err != nil {
		return nil, err
	}
	if a.Internal && !actor.IsStaff() {
		return nil, ErrNotFound
	}
	if _, err := p.Ticket(ctx, actor, a.TicketID); err != nil {
		return nil, err
	}
	return a, nil
}

// Presigner is files kept where a download can be sent straight to them
// for a while (object storage's presigned addresses).
type Presigner interface {
	Presign(name, filename, ctype string, attachment bool) (url string, ok bool, err error)
}

// AttachmentLink is a short-lived address that downloads a file actor may
// see straight from where it is kept; ok false when files are not kept
// so (then OpenAttachment serves it). The same checks as OpenAttachment
// come first.
func (p *Portal) AttachmentLink(ctx context.Context, actor *User, id int64, inline bool) (string, bool, error) {
	ps, ok := p.Fs.(Presigner)
	if !ok {
		return "", false, nil
	}
	a, err := p.attachmentFor(ctx, actor, id)
	if err != nil {
		return "", false, err
	}
	return ps.Presign(a.path, a.Name, a.ContentType, !(inline && a.IsImage()))
}

// OpenAttachment returns a file actor may see, with its bytes.
func (p *Portal) OpenAttachment(ctx context.Context, actor *User, id int64) (*Attachment, io.ReadSeekCloser, error) {
	a, err := p.attachmentFor(ctx, actor, id)
	if err != nil {
		return nil, nil, err
	}
	f, err := p.Fs.Open(a.path)
	if err != nil {
		return nil, nil, fmt.Errorf("store: attachment %d: %w", id, err)
	}
	return a, f, nil
}
