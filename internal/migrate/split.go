package migrate

import "bytes"

// Document is one YAML document of a file: the separator line that opens
// it (empty for the first) and its body, byte for byte, so that joining
// every Separator and Body gives the file back.
type Document struct {
	Separator []byte
	Body      []byte
}

// Split cuts a file into documents at lines that are "---" (optionally
// followed by spaces or a comment, as YAML allows). A "---" inside a block
// scalar is indented and therefore not a separator.
func Split(in []byte) []Document {
	docs := []Document{{}}
	start := 0
	for pos := 0; pos < len(in); {
		n := bytes.IndexByte(in[pos:], '\n')
		end := len(in)
		if n >= 0 {
			end = pos + n + 1
		}
		if isSeparator(in[pos:end]) {
			docs[len(docs)-1].Body = in[start:pos]
			docs = append(docs, Document{Separator: in[pos:end]})
			start = end
		}
		pos = end
	}
	docs[len(docs)-1].Body = in[start:]
	return docs
}

func isSeparator(line []byte) bool {
	if !bytes.HasPrefix(line, []byte("---")) {
		return false
	}
	rest := bytes.TrimRight(line[3:], "\r\n")
	if len(rest) == 0 {
		return true
	}
	if rest[0] != ' ' && rest[0] != '\t' {
		return false
	}
	rest = bytes.TrimLeft(rest, " \t")
	return len(rest) == 0 || rest[0] == '#'
}
