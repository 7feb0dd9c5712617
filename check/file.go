package check

import (
	"context"
	"errors"
	"fmt"
	"io"
	"math"
	"os"
	"strconv"
	"strings"
	"syscall"
	"time"
)

// FileOptions configure a FILE_CHECK: the number in a file, times Weight,
// is added to the real server's weight.
type FileOptions struct {
	// Path is the file (the track_file block's file).
	Path string
	// Weight multiplies the file's number. With Weight 0, a number other
	// than 0 takes the server down (0 down with Reverse).
	Weight int
	// Reverse negates the weight (keepalived's "weight N reverse").
	Reverse bool
}

// File is a FILE_CHECK checker. A file that is missing or empty reads as
// 0, as in keepalived.
type File struct{ opt FileOptions }

// NewFile builds a FILE checker.
func NewFile(opt FileOptions) (*File, error) {
	if opt.Path == "" {
		return nil, errors.New("file check: no file")
	}
	return &File{opt: opt}, nil
}

// String names the check: "FILE_CHECK /run/weight".
func (f *File) String() string { return "FILE_CHECK " + f.opt.Path }

// Check reads the file's number: up with a weight offset of number×weight;
// down when the weight is 0 and the number is not (reversed: is), or when
// the product is at or below the smallest 32-bit integer.
func (f *File) Check(_ context.Context) Result {
	start := time.Now()
	n, err := readNumber(f.opt.Path)
	if err != nil {
		return fail(start, "%v", err)
	}
	mult := int64(1)
	if f.opt.Reverse {
		mult = -1
	}
	if f.opt.Weight == 0 {
		failed := (n != 0) != f.opt.Reverse
		if failed {
			return fail(start, "%s holds %d", f.opt.Path, n)
		}
		return Result{OK: true, Reason: fmt.Sprintf("%s holds %d", f.opt.Path, n), Duration: time.Since(start),
			WeightKind: WeightOffset}
	}
	w := n * int64(f.opt.Weight) * mult
	if w <= math.MinInt32 {
		return fail(start, "%s holds %d: weight %d is a fault", f.opt.Path, n, w)
	}
	if w > math.MaxInt32 {
		w = math.MaxInt32
	}
	return Result{OK: true, Reason: fmt.Sprintf("%s holds %d", f.opt.Path, n),
		Duration: time.Since(start), WeightKind: WeightOffset, Weight: int(w)}
}

// readNumber reads the first 127 bytes of path as keepalived does (strtol
// with base 0: decimal, 0x hex or 0 octal, leading blanks, trailing text
// ignored). A missing file or one without a number is 0.
func readNumber(path string) (int64, error) {
	fh, err := os.OpenFile(path, os.O_RDONLY|syscall.O_NONBLOCK, 0)
	if err != nil {
		if errors.Is(err, os.ErrNotExist) {
			return 0, nil
		}
		return 0, fmt.Errorf("read %s: %w", path, err)
	}
	defer fh.Close()
	buf := make([]byte, 127)
	n, err := io.ReadFull(fh, buf)
	if err != nil && !errors.Is(err, io.ErrUnexpectedEOF) && !errors.Is(err, io.EOF) {
		return 0, fmt.Errorf("read %s: %w", path, err)
	}
	s := strings.TrimLeft(string(buf[:n]), " \t\r\n\v\f")
	// The longest prefix strtol would take.
	end := 0
	if end < len(s) && (s[end] == '+' || s[end] == '-') {
		end++
	}
	base := 10
	digits := "0123456789"
	if strings.HasPrefix(s[end:], "0x") || strings.HasPrefix(s[end:], "0X") {
		if len(s) > end+2 && strings.ContainsRune("0123456789abcdefABCDEF", rune(s[end+2])) {
			base, digits, end = 16, "0123456789abcdefABCDEF", end+2
		}
	} else if strings.HasPrefix(s[end:], "0") {
		base, digits = 8, "01234567"
	}
	startDigits := end
	for end < len(s) && strings.IndexByte(digits, s[end]) >= 0 {
		end++
	}
	if end == startDigits {
		return 0, nil
	}
	sign := int64(1)
	if s[0] == '-' {
		sign = -1
	}
	v, err := strconv.ParseInt(s[startDigits:end], base, 64)
	if err != nil || v > math.MaxInt32+1 {
		return 0, fmt.Errorf("read %s: number %q out of range", path, s[:end])
	}
	return sign * v, nil
}
