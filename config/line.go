package config

// Word is one token of a keepalived.conf line after preprocessing: quotes are
// removed and escapes resolved. Quoted is true when any part of the word was
// inside quotes, so a quoted "{" is text, not a block opener.
type Word struct {
	Text   string
	Quoted bool
}

// Line is one logical line of keepalived.conf after include, conditional,
// macro and sequence processing: where it was written and its words.
type Line struct {
	Pos   Pos
	Words []Word
}

// IsBrace reports whether w is an unquoted "{" or "}" equal to b.
func (w Word) IsBrace(b string) bool { return !w.Quoted && w.Text == b }
