package gateway

import "unicode"

// textFlaws is what scanText finds in a name or a message that a person
// would not see, or would see wrongly.
type textFlaws struct {
	visible  bool // something that draws: not only white space and invisible characters
	control  bool // a C0 or C1 control character (newlines and tabs aside where allowed), or DEL
	override bool // a bidi override (U+202D, U+202E), which reverses the text after it
}

// scanText reads s once. Invisible are white space, format characters
// (zero-width spaces and joiners, bidi marks, the BOM, tags), variation
// selectors and the fillers that draw nothing (Hangul fillers, the blank
// Braille pattern): a name or message of only those looks empty. Bidi
// isolates (U+2066–U+2069), embeddings (U+202A–U+202C) and marks are
// allowed: right-to-left text uses them, and the page shows every text in
// its own direction; only the overrides, which show text in reverse, are not.
func scanText(s string, multiline bool) textFlaws {
	var f textFlaws
	for _, r := range s {
		switch {
		case r < 0x20 || r == 0x7f:
			if !multiline || (r != '\n' && r != '\t' && r != '\r') {
				f.control = true
			}
		case r >= 0x80 && r <= 0x9f:
			f.control = true
		case r == 0x202d || r == 0x202e:
			f.override = true
		case r >= 0x202a && r <= 0x202c:
			// Embeddings and their pop: right-to-left text copied from word
			// processors carries them; they reorder nothing by themselves.
		case r < 0x80:
			f.visible = f.visible || r != ' '
		case unicode.IsSpace(r), unicode.Is(unicode.Cf, r), invisible(r):
		default:
			f.visible = true
		}
	}
	return f
}

// invisible reports characters outside the space and format categories
// that draw nothing.
func invisible(r rune) bool {
	switch {
	case r == 0x034f, // combining grapheme joiner
		r == 0x115f, r == 0x1160, r == 0x3164, r == 0xffa0, // Hangul fillers
		r == 0x2800,                  // Braille pattern blank
		r >= 0xfe00 && r <= 0xfe0f,   // variation selectors
		r >= 0xe0100 && r <= 0xe01ef: // variation selectors supplement
		return true
	}
	return false
}
