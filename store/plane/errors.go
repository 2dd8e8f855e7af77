package plane

import (
	"fmt"

	"webchat/store"
)

// errUnexpected is a reply of a shape no script or command answers.
func errUnexpected(v any) error { return fmt.Errorf("unexpected reply %v", v) }

func unavailable(op string, err error) error { return store.Unavailable(op, err) }
