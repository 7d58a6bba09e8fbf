package services

import (
	"bytes"
	"context"
	"crypto/sha256"
	"errors"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5/pgconn"
	"gorm.io/gorm"

	"github.com/todo-api/todo-api/models"
)

// MaxIdempotencyKeyLength bounds an Idempotency-Key header (see
// apidocs/openapi.yaml).
const MaxIdempotencyKeyLength = 255

// inFlightWait is how long a repeat waits for the first request with its
// key to finish before answering that the first is still in flight.
const inFlightWait = 50 * time.Millisecond

// ErrIdempotencyInFlight: a request with the same Idempotency-Key is still
// being processed; the client should retry later.
var ErrIdempotencyInFlight = errors.New("a request with this Idempotency-Key is still in progress")

// IdempotencyKey is a create's Idempotency-Key and the fingerprint of the
// request it came with (what a repeat must match).
type IdempotencyKey struct {
	Key         string
	Fingerprint []byte
}

// NewIdempotencyKey checks the header's value and fingerprints the request
// (its route and body bytes). A key is 1 to 255 visible ASCII characters.
func NewIdempotencyKey(key, route string, body []byte) (IdempotencyKey, error) {
	if key == "" || len(key) > MaxIdempotencyKeyLength {
		return IdempotencyKey{}, fmt.Errorf("Idempotency-Key must be 1 to %d characters", MaxIdempotencyKeyLength)
	}
	for i := 0; i < len(key); i++ {
		if key[i] < 0x21 || key[i] > 0x7e {
			return IdempotencyKey{}, errors.New("Idempotency-Key must be visible ASCII characters (no spaces or control characters)")
		}
	}
	h := sha256.New()
	h.Write([]byte(route))
	h.Write([]byte{0})
	h.Write(body)
	return IdempotencyKey{Key: key, Fingerprint: h.Sum(nil)}, nil
}

// Once makes a create happen at most once per user and key (see once).
type Once struct {
	Key IdempotencyKey
	// Answer makes the create's answer from the todos it wrote: kept with
	// the key, in the create's transaction, and given back to a repeat as
	// it is.
	Answer func([]models.Todo) ([]byte, error)
}

// once creates the todos of items under o.Key, in one transaction with
// the answer kept for it:
//
//   - the first request with the key claims it (an insert), creates, and
//     stores its answer before committing, so that a crash leaves both or
//     neither;
//   - a repeat after that gets the kept answer, Replayed, with no write;
//     with another fingerprint (another body) it is a *ValidationError;
//   - a repeat while the first is still running waits for the claim
//     briefly and then is ErrIdempotencyInFlight: never a second write;
//   - an expired key is claimed again as if new.
//
// Only a transaction-scoped setting is used, so it works through a
// transaction pooler.
func (s *Todos) once(ctx context.Context, c Caller, items []TodoInput, o Once) (Created, error) {
	// A revoked token gets no write and no stored answer either. The
	// account is read once up front: this path runs several statements
	// anyway, and the stored answer is read in more than one of them.
	if err := c.confirm(ctx, s.db); err != nil {
		return Created{}, err
	}
	userID, key := c.ID, o.Key
	var done Created
	err := write(ctx, func() error {
		done = Created{}
		return s.db.WithContext(ctx).Transaction(func(tx *gorm.DB) error {
			if err := tx.Exec(fmt.Sprintf("SET LOCAL lock_timeout = '%dms'", inFlightWait.Milliseconds())).Error; err != nil {
				return err
			}
			now := s.now()
			// status (201), location and etag are read only by releases
			// that kept whole HTTP answers: the answer is its body now,
			// which names the todo's id and version itself.
			var claimed []int64
			err := tx.Raw(`
				INSERT INTO idempotency_keys (user_id, key, fingerprint, status, body, created_at, expires_at)
				VALUES (?, ?, ?, 201, '', ?, ?)
				ON CONFLICT (user_id, key) DO UPDATE
					SET fingerprint = EXCLUDED.fingerprint, status = EXCLUDED.status, location = NULL, etag = NULL, body = '',
					    created_at = EXCLUDED.created_at, expires_at = EXCLUDED.expires_at
					WHERE idempotency_keys.expires_at <= EXCLUDED.created_at
				RETURNING user_id`,
				userID, key.Key, key.Fingerprint, now, now.Add(s.idempotencyTTL)).Scan(&claimed).Error
			var pgErr *pgconn.PgError
			if errors.As(err, &pgErr) && pgErr.Code == "55P03" { // lock_not_available: the first is running
				return ErrIdempotencyInFlight
			}
			if err != nil {
				return err
			}
			if err := tx.Exec("SET LOCAL lock_timeout TO DEFAULT").Error; err != nil {
				return err
			}
			if len(claimed) == 0 {
				var stored models.IdempotencyKey
				if err := tx.Where("user_id = ? AND key = ?", userID, key.Key).Take(&stored).Error; err != nil {
					return err
				}
				if !bytes.Equal(stored.Fingerprint, key.Fingerprint) {
					return &ValidationError{Fields: []FieldError{{Field: "Idempotency-Key", Message: "was already used with a different request; use a new key for a new request"}}}
				}
				if len(stored.Body) == 0 {
					// Claimed rows are only committed with their answer;
					// one without is a broken invariant, not an answer.
					return fmt.Errorf("idempotency key %q holds no answer", key.Key)
				}
				done = Created{Answer: stored.Body, Replayed: true}
				return nil
			}
			todos := s.newTodos(userID, items)
			if err := s.insert(ctx, tx, c, todos); err != nil {
				return err
			}
			answer, err := o.Answer(todos)
			if err != nil {
				return err
			}
			done = Created{Todos: todos, Answer: answer}
			return tx.Model(&models.IdempotencyKey{}).Where("user_id = ? AND key = ?", userID, key.Key).Update("body", answer).Error
		})
	})
	if err != nil {
		// translate keeps ErrIdempotencyInFlight and *ValidationError
		// visible to errors.Is and errors.As.
		return Created{}, translate(err, "create with idempotency key")
	}
	return done, nil
}

// SweepIdempotencyKeys deletes expired keys, a bounded batch at a time
// (through idx_idempotency_keys_expires_at), and reports how many.
func (s *Todos) SweepIdempotencyKeys(ctx context.Context) (int64, error) {
	var total int64
	for {
		res := s.db.WithContext(ctx).Exec(`
			DELETE FROM idempotency_keys WHERE ctid IN (
				SELECT ctid FROM idempotency_keys WHERE expires_at <= ? LIMIT 1000)`, s.now())
		if res.Error != nil {
			return total, translate(res.Error, "sweep idempotency keys")
		}
		total += res.RowsAffected
		if res.RowsAffected < 1000 {
			return total, nil
		}
	}
}
