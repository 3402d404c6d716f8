// Copyright 2016 Qiang Xue. All rights reserved.
// Use of this source code is governed by a MIT-style
// license that can be found in the LICENSE file.

package dbx

import "database/sql"

// Tx enhances sql.Tx with additional querying methods.
type Tx struct {
	Builder
	tx *sql.Tx
	// member marks a transaction shared by a group commit (EnableGroupCommit).
	member bool
}

// Commit commits the transaction.
func (t *Tx) Commit() error {
	if t.member {
		return ErrGroupMember
	}
	return t.tx.Commit()
}

// Rollback aborts the transaction.
func (t *Tx) Rollback() error {
	if t.member {
		return ErrGroupMember
	}
	return t.tx.Rollback()
}
