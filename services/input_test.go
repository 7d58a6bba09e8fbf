package services

import (
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"
)

// The input rules, where they live: no HTTP, no database. Each case names
// the fields a rule refuses (nil: accepted). The HTTP tests keep one case
// per kind of rule, for the wiring and the shape of the 422.

func fieldNames(v *ValidationError) []string {
	var out []string
	for _, f := range v.Fields {
		out = append(out, f.Field)
	}
	return out
}

func wantFields(t *testing.T, what string, v *ValidationError, want []string) {
	t.Helper()
	got := fieldNames(v)
	if !slices.Equal(got, want) {
		t.Errorf("%s: fields %q, want %q (%v)", what, got, want, v.Fields)
	}
	for _, f := range v.Fields {
		if f.Message == "" {
			t.Errorf("%s: %s has no message", what, f.Field)
		}
	}
}

func null[T any]() Optional[T] { return Optional[T]{Set: true, Null: true} }

func TestTodoInputValidate(t *testing.T) {
	a255, e255 := strings.Repeat("a", 255), strings.Repeat("é", 255)
	due := func(s string) Optional[time.Time] {
		d, err := time.Parse(time.RFC3339, s)
		if err != nil {
			t.Fatal(err)
		}
		return Some(d)
	}
	tests := []struct {
		name     string
		in       TodoInput
		creating bool
		want     []string
	}{
		{"title 1 character", TodoInput{Title: Some("a")}, true, nil},
		{"title 255 ASCII", TodoInput{Title: Some(a255)}, true, nil},
		{"title 255 two-byte characters", TodoInput{Title: Some(e255)}, true, nil},
		{"title 255 four-byte characters", TodoInput{Title: Some(strings.Repeat("😀", 255))}, true, nil},
		{"title 255 after trimming", TodoInput{Title: Some("   " + a255 + "   ")}, true, nil},
		{"title absent on create", TodoInput{Priority: Some(1)}, true, []string{"title"}},
		{"title absent on patch", TodoInput{Priority: Some(1)}, false, nil},
		{"title null", TodoInput{Title: null[string]()}, true, []string{"title"}},
		{"title null on patch", TodoInput{Title: null[string]()}, false, []string{"title"}},
		{"title empty", TodoInput{Title: Some("")}, true, []string{"title"}},
		{"title empty on patch", TodoInput{Title: Some("")}, false, []string{"title"}},
		{"title spaces only", TodoInput{Title: Some("     ")}, true, []string{"title"}},
		{"title tabs and newlines only", TodoInput{Title: Some("\t\n\r\n")}, true, []string{"title"}},
		{"title Unicode spaces only", TodoInput{Title: Some("\u00a0\u2003\u3000")}, true, []string{"title"}},
		{"title 256 ASCII", TodoInput{Title: Some(a255 + "a")}, true, []string{"title"}},
		{"title 256 two-byte characters", TodoInput{Title: Some(e255 + "é")}, true, []string{"title"}},
		{"title 256 after trimming", TodoInput{Title: Some(" " + a255 + "b ")}, true, []string{"title"}},
		{"title NUL", TodoInput{Title: Some("a\x00b")}, true, []string{"title"}},
		{"title NUL only", TodoInput{Title: Some("\x00")}, true, []string{"title"}},
		{"title NUL on patch", TodoInput{Title: Some("a\x00")}, false, []string{"title"}},
		{"title inner spaces", TodoInput{Title: Some("a  b")}, true, nil},
		{"title 256 two-byte characters on patch", TodoInput{Title: Some(e255 + "é")}, false, []string{"title"}},
		{"title 255 two-byte characters on patch", TodoInput{Title: Some(e255)}, false, nil},
		{"title invalid UTF-8", TodoInput{Title: Some("a\xffb")}, true, []string{"title"}},
		{"description null", TodoInput{Title: Some("d"), Description: null[string]()}, true, nil},
		{"description empty", TodoInput{Title: Some("d"), Description: Some("")}, true, nil},
		{"description 10000 ASCII", TodoInput{Title: Some("d"), Description: Some(strings.Repeat("d", 10000))}, true, nil},
		{"description 10000 four-byte characters", TodoInput{Title: Some("d"), Description: Some(strings.Repeat("😀", 10000))}, true, nil},
		{"description 10001 ASCII", TodoInput{Title: Some("d"), Description: Some(strings.Repeat("d", 10001))}, true, []string{"description"}},
		{"description 10001 two-byte characters", TodoInput{Title: Some("d"), Description: Some(strings.Repeat("é", 10001))}, true, []string{"description"}},
		{"description NUL", TodoInput{Title: Some("d"), Description: Some("\x00")}, true, []string{"description"}},
		{"description NUL inside", TodoInput{Title: Some("d"), Description: Some("x\x00y")}, true, []string{"description"}},
		{"description invalid UTF-8", TodoInput{Title: Some("d"), Description: Some("\xff")}, true, []string{"description"}},
		{"description null clears on patch", TodoInput{Description: null[string]()}, false, nil},
		{"description 10000 two-byte characters on patch", TodoInput{Description: Some(strings.Repeat("é", 10000))}, false, nil},
		{"description 10001 on patch", TodoInput{Description: Some(strings.Repeat("d", 10001))}, false, []string{"description"}},
		{"description NUL on patch", TodoInput{Description: Some("\x00")}, false, []string{"description"}},
		{"priority 0", TodoInput{Title: Some("p"), Priority: Some(0)}, true, nil},
		{"priority 5", TodoInput{Title: Some("p"), Priority: Some(5)}, true, nil},
		{"priority -1", TodoInput{Title: Some("p"), Priority: Some(-1)}, true, []string{"priority"}},
		{"priority 6", TodoInput{Title: Some("p"), Priority: Some(6)}, true, []string{"priority"}},
		{"priority int16 wrap-around", TodoInput{Title: Some("p"), Priority: Some(65538)}, true, []string{"priority"}},
		{"priority null", TodoInput{Title: Some("p"), Priority: null[int]()}, true, []string{"priority"}},
		{"priority null on patch", TodoInput{Priority: null[int]()}, false, []string{"priority"}},
		{"priority 6 on patch", TodoInput{Priority: Some(6)}, false, []string{"priority"}},
		{"priority 0 on patch", TodoInput{Priority: Some(0)}, false, nil},
		{"priority absent", TodoInput{Title: Some("p")}, true, nil},
		{"completed true", TodoInput{Title: Some("c"), Completed: Some(true)}, true, nil},
		{"completed false", TodoInput{Title: Some("c"), Completed: Some(false)}, true, nil},
		{"completed null", TodoInput{Title: Some("c"), Completed: null[bool]()}, true, []string{"completed"}},
		{"completed null on patch", TodoInput{Completed: null[bool]()}, false, []string{"completed"}},
		{"due_date null clears", TodoInput{DueDate: null[time.Time]()}, false, nil},
		{"due_date year 9999", TodoInput{Title: Some("t"), DueDate: due("9999-12-31T23:59:59Z")}, true, nil},
		{"due_date year 10000 in UTC", TodoInput{Title: Some("t"), DueDate: due("9999-12-31T23:59:59-01:00")}, true, []string{"due_date"}},
		{"due_date year 0 in UTC", TodoInput{Title: Some("t"), DueDate: due("0001-01-01T00:00:00+01:00")}, true, []string{"due_date"}},
		{"due_date year 1", TodoInput{Title: Some("t"), DueDate: due("0001-01-01T00:00:00Z")}, true, nil},
		{"due_date with offset", TodoInput{Title: Some("t"), DueDate: due("2026-12-31T19:30:00+02:30")}, true, nil},
		{"due_date year 10000 in UTC on patch", TodoInput{DueDate: due("9999-12-31T23:00:00-02:00")}, false, []string{"due_date"}},
		{"good and bad field on patch", TodoInput{Title: Some("fine"), Priority: Some(9)}, false, []string{"priority"}},
		{"every field null on patch", TodoInput{Title: null[string](), Description: null[string](), Completed: null[bool](), Priority: null[int](), DueDate: null[time.Time]()}, false,
			[]string{"title", "completed", "priority"}},
		{"every field wrong, in order", TodoInput{Title: Some(""), Description: Some(strings.Repeat("d", 10001)), Completed: null[bool](), Priority: Some(9), DueDate: due("9999-12-31T23:59:59-01:00")}, true,
			[]string{"title", "description", "completed", "priority", "due_date"}},
	}
	for p := MinPriority; p <= MaxPriority; p++ {
		wantFields(t, fmt.Sprintf("priority %d", p), TodoInput{Title: Some("p"), Priority: Some(p)}.Validate("", true), nil)
	}
	for _, tt := range tests {
		wantFields(t, tt.name, tt.in.Validate("", tt.creating), tt.want)
	}
	v := TodoInput{Priority: Some(9)}.Validate("items[3].", true)
	wantFields(t, "prefixed", v, []string{"items[3].title", "items[3].priority"})
}

func TestValidateBatch(t *testing.T) {
	ok := TodoInput{Title: Some("t")}
	many := func(n int, in TodoInput) []TodoInput {
		items := make([]TodoInput, n)
		for i := range items {
			items[i] = in
		}
		return items
	}
	tests := []struct {
		name  string
		items []TodoInput
		want  []string
	}{
		{"none", nil, []string{"items"}},
		{"one", many(1, ok), nil},
		{"the most", many(MaxBatchItems, ok), nil},
		{"one too many, items unchecked", many(MaxBatchItems+1, TodoInput{}), []string{"items"}},
		{"first item bad", []TodoInput{{Title: Some("")}, ok}, []string{"items[0].title"}},
		{"last of the most bad", append(many(MaxBatchItems-1, ok), TodoInput{Title: Some("")}), []string{"items[999].title"}},
		{"every rule named by index", []TodoInput{ok, ok, ok, {Title: Some("   ")}, {Priority: Some(1)}, {Title: Some(strings.Repeat("é", 256))},
			{Title: Some("x"), Priority: Some(6)}, {Title: Some("x"), Description: Some(strings.Repeat("d", 10001))}, {Title: Some("a\x00b")}, {Title: Some("x"), Completed: null[bool]()}},
			[]string{"items[3].title", "items[4].title", "items[5].title", "items[6].priority", "items[7].description", "items[8].title", "items[9].completed"}},
		{"bad items named by index", []TodoInput{ok, {}, {Title: Some("t"), Priority: Some(7)}}, []string{"items[1].title", "items[2].priority"}},
	}
	for _, tt := range tests {
		wantFields(t, tt.name, ValidateBatch(tt.items), tt.want)
	}
}

func TestRegisterInputValidate(t *testing.T) {
	const pw = "correct horse battery"
	email255 := strings.Repeat("e", 255-len("@example.com")) + "@example.com"
	tests := []struct {
		name                      string
		email, username, password Optional[string]
		want                      []string
	}{
		{"valid", Some("a@example.com"), Some("abc"), Some(pw), nil},
		{"everything absent", Optional[string]{}, Optional[string]{}, Optional[string]{}, []string{"email", "username", "password"}},
		{"everything null", null[string](), null[string](), null[string](), []string{"email", "username", "password"}},
		{"reserved username prefix", Some("a@example.com"), Some("ba_abc"), Some(pw), []string{"username"}},
		{"reserved username prefix in capitals", Some("a@example.com"), Some("BA_abc"), Some(pw), []string{"username"}},
		{"ba without the underscore", Some("a@example.com"), Some("bath"), Some(pw), nil},
	}
	emails := []struct {
		email string
		ok    bool
	}{
		{"plain@example.com", true},
		{"first.last+tag@mail.example.co.uk", true},
		{"o'brien_x-y@example-domain.ie", true},
		{"  padded@example.com ", true},
		{" " + email255, false}, // 256 characters as sent: over the bound the document states
		{email255, true},
		{"x" + email255, false},
		{"plainaddress", false},
		{"@example.com", false},
		{"user@", false},
		{"user@@example.com", false},
		{"user name@example.com", false},
		{"User <user@example.com>", false},
		{"user@example..com", false},
		{".user@example.com", false},
		{"us..er@example.com", false},
		{"user@example.com (home)", false},
		{"user@localhost", false},
		{"", false},
		{"a\x00b@example.com", false},
		{"nul\x00name@example.com", false},
		{"not-an-email", false},
		{"x@", false},
		{"nope", false},
	}
	for _, e := range emails {
		tt := struct {
			name                      string
			email, username, password Optional[string]
			want                      []string
		}{"email " + e.email, Some(e.email), Some("abc"), Some(pw), nil}
		if !e.ok {
			tt.want = []string{"email"}
		}
		tests = append(tests, tt)
	}
	usernames := []struct {
		username string
		ok       bool
	}{
		{"abc", true},
		{strings.Repeat("x", 50), true},
		{"A.b_C-9.", true},
		{"ab", false},
		{strings.Repeat("x", 51), false},
		{"", false},
		{"has space", false},
		{"bang!", false},
		{"at@sign", false},
		{"a/b/c", false},
		{"o'brien", false},
		{"a+b", false},
		{"tab\tname", false},
		{"ünïcödé", false},
		{"ééé", false},
		{"日本語ユーザー", false},
		{"smile😀", false},
		{"ａｂｃｄ", false},
		{"ab\x00cd", false},
		{"nul\x00name", false},
		{"\x00\x00\x00", false},
		{"no spaces", false},
		{"a!", false},
		{"a", false},
		{"MiXeD_CASE_kept", true},
	}
	for _, u := range usernames {
		tt := struct {
			name                      string
			email, username, password Optional[string]
			want                      []string
		}{"username " + u.username, Some("a@example.com"), Some(u.username), Some(pw), nil}
		if !u.ok {
			tt.want = []string{"username"}
		}
		tests = append(tests, tt)
	}
	passwords := []struct {
		password string
		ok       bool
	}{
		{"12345678", true},
		{"1234567", false},
		{strings.Repeat("p", 72), true},
		{strings.Repeat("p", 73), false},
		{strings.Repeat("é", 4), true},
		{strings.Repeat("é", 3) + "a", false},
		{strings.Repeat("é", 36), true},
		{strings.Repeat("é", 36) + "a", false},
		{strings.Repeat("€", 24), true},
		{strings.Repeat("€", 25), false},
		{strings.Repeat("😀", 18), true},
		{strings.Repeat("😀", 19), false},
		{"😀😀", true},
		{"        ", true},
		{"", false},
		{"1234\x005678", false},
		{"1", false},
		{"short", false},
	}
	for _, p := range passwords {
		tt := struct {
			name                      string
			email, username, password Optional[string]
			want                      []string
		}{"password " + p.password, Some("a@example.com"), Some("abc"), Some(p.password), nil}
		if !p.ok {
			tt.want = []string{"password"}
		}
		tests = append(tests, tt)
	}
	for _, tt := range tests {
		in := RegisterInput{Email: tt.email, Username: tt.username, Password: tt.password}
		wantFields(t, tt.name, in.Validate(), tt.want)
	}
}

func TestUpdateUserInputValidate(t *testing.T) {
	const pw = "correct horse battery"
	tests := []struct {
		name string
		in   UpdateUserInput
		want []string
	}{
		{"nothing", UpdateUserInput{}, nil},
		{"username alone", UpdateUserInput{Username: Some("new_name")}, nil},
		{"email with current password", UpdateUserInput{Email: Some("n@example.com"), CurrentPassword: Some(pw)}, nil},
		{"password with current password", UpdateUserInput{Password: Some("new password"), CurrentPassword: Some(pw)}, nil},
		{"email without current password", UpdateUserInput{Email: Some("n@example.com")}, []string{"current_password"}},
		{"password with empty current password", UpdateUserInput{Password: Some("new password"), CurrentPassword: Some("")}, []string{"current_password"}},
		{"password with null current password", UpdateUserInput{Password: Some("new password"), CurrentPassword: null[string]()}, []string{"current_password"}},
		{"null current password alone", UpdateUserInput{CurrentPassword: null[string]()}, []string{"current_password"}},
		{"current password alone", UpdateUserInput{CurrentPassword: Some(pw)}, nil},
		{"email null", UpdateUserInput{Email: null[string](), CurrentPassword: Some(pw)}, []string{"email"}},
		{"username null", UpdateUserInput{Username: null[string]()}, []string{"username"}},
		{"password null", UpdateUserInput{Password: null[string](), CurrentPassword: Some(pw)}, []string{"password"}},
		{"bad email", UpdateUserInput{Email: Some("nope"), CurrentPassword: Some(pw)}, []string{"email"}},
		{"bad username", UpdateUserInput{Username: Some("x")}, []string{"username"}},
		{"short password", UpdateUserInput{Password: Some("short"), CurrentPassword: Some(pw)}, []string{"password"}},
		{"username 50 characters", UpdateUserInput{Username: Some(strings.Repeat("z", 50))}, nil},
		{"username 2 characters", UpdateUserInput{Username: Some("ab")}, []string{"username"}},
		{"username with a space", UpdateUserInput{Username: Some("no spaces")}, []string{"username"}},
		{"username with the reserved prefix", UpdateUserInput{Username: Some("ba_0123456789abcdef01234567")}, []string{"username"}},
		{"username with the reserved prefix in capitals", UpdateUserInput{Username: Some("Ba_me")}, []string{"username"}},
		{"username with the prefix inside", UpdateUserInput{Username: Some("not_ba_me")}, nil},
		{"username NUL", UpdateUserInput{Username: Some("ab\x00cd")}, []string{"username"}},
		{"email 255 bytes", UpdateUserInput{Email: Some(strings.Repeat("e", 255-len("@example.com")) + "@example.com"), CurrentPassword: Some(pw)}, nil},
		{"email 256 bytes", UpdateUserInput{Email: Some(strings.Repeat("e", 256-len("@example.com")) + "@example.com"), CurrentPassword: Some(pw)}, []string{"email"}},
		{"email NUL", UpdateUserInput{Email: Some("a\x00b@example.com"), CurrentPassword: Some(pw)}, []string{"email"}},
		{"password 72 bytes", UpdateUserInput{Password: Some(strings.Repeat("é", 36)), CurrentPassword: Some(pw)}, nil},
		{"password 73 bytes", UpdateUserInput{Password: Some(strings.Repeat("é", 36) + "1"), CurrentPassword: Some(pw)}, []string{"password"}},
		{"password without current password", UpdateUserInput{Password: Some("new password 1")}, []string{"current_password"}},
		{"current password 72 bytes", UpdateUserInput{Password: Some("new password 1"), CurrentPassword: Some(strings.Repeat("p", 72))}, nil},
		{"current password 73 bytes", UpdateUserInput{Password: Some("new password 1"), CurrentPassword: Some(strings.Repeat("p", 73))}, []string{"current_password"}},
		{"email and password with current password", UpdateUserInput{Email: Some("n@example.com"), Password: Some("new password 1"), CurrentPassword: Some(pw)}, nil},
		{"every field wrong", UpdateUserInput{Email: Some("nope"), Username: Some("x"), Password: Some("short")}, []string{"email", "username", "password", "current_password"}},
	}
	for _, tt := range tests {
		wantFields(t, tt.name, tt.in.Validate(), tt.want)
	}
}

func TestValidateLogin(t *testing.T) {
	tests := []struct {
		name, username, password string
		want                     []string
	}{
		{"valid", "someone", "whatever", nil},
		{"email as username", "a@example.com", "whatever", nil},
		{"empty", "", "", []string{"username", "password"}},
		{"NUL in username", "a\x00b", "whatever", []string{"username"}},
		{"invalid UTF-8 password", "someone", "\xff\xfe", []string{"password"}},
		{"invalid UTF-8 username", "\xffx", "whatever", []string{"username"}},
		{"NUL in an email as username", "nul\x00user@example.com", "whatever", []string{"username"}},
		{"NUL in password", "someone", "pass\x00word", []string{"password"}},
		{"empty password", "someone", "", []string{"password"}},
		{"empty username", "", "whatever", []string{"username"}},
		{"password 36 two-byte characters", "someone", strings.Repeat("é", 36), nil},
		{"password 73 bytes of two-byte characters", "someone", strings.Repeat("é", 36) + "1", []string{"password"}},
		{"password 72 bytes", "someone", strings.Repeat("p", 72), nil},
		{"password 73 bytes", "someone", strings.Repeat("p", 73), []string{"password"}},
	}
	for _, tt := range tests {
		wantFields(t, tt.name, ValidateLogin(tt.username, tt.password), tt.want)
	}
}

func TestListQueryCheck(t *testing.T) {
	str := func(s string) *string { return &s }
	num := func(n int) *int { return &n }
	long := strings.Repeat("x", MaxQueryLength)
	tests := []struct {
		name string
		q    ListQuery
		want []string
	}{
		{"defaults", ListQuery{}, nil},
		{"sort unknown", ListQuery{Sort: str("nope")}, []string{"sort"}},
		{"sort empty", ListQuery{Sort: str("")}, []string{"sort"}},
		{"sort upper case", ListQuery{Sort: str("TITLE")}, []string{"sort"}},
		{"sort plus", ListQuery{Sort: str("+title")}, []string{"sort"}},
		{"limit 1", ListQuery{Limit: num(1)}, nil},
		{"limit 100", ListQuery{Limit: num(MaxLimit)}, nil},
		{"limit 0", ListQuery{Limit: num(0)}, []string{"limit"}},
		{"limit 101", ListQuery{Limit: num(MaxLimit + 1)}, []string{"limit"}},
		{"limit -1", ListQuery{Limit: num(-1)}, []string{"limit"}},
		{"offset 0", ListQuery{Offset: 0}, nil},
		{"offset -1", ListQuery{Offset: -1}, []string{"offset"}},
		{"min_priority 0", ListQuery{MinPriority: num(0)}, nil},
		{"min_priority 5", ListQuery{MinPriority: num(5)}, nil},
		{"min_priority -1", ListQuery{MinPriority: num(-1)}, []string{"min_priority"}},
		{"min_priority 6", ListQuery{MinPriority: num(6)}, []string{"min_priority"}},
		{"q 200 characters", ListQuery{Q: long}, nil},
		{"q 200 four-byte characters", ListQuery{Q: strings.Repeat("😀", MaxQueryLength)}, nil},
		{"q 201 characters", ListQuery{Q: long + "x"}, []string{"q"}},
		{"q NUL", ListQuery{Q: "a\x00"}, []string{"q"}},
		{"q invalid UTF-8", ListQuery{Q: "\xff"}, []string{"q"}},
		{"cursor empty", ListQuery{Cursor: str("")}, []string{"cursor"}},
		{"cursor with offset", ListQuery{Cursor: str("abc"), Offset: 3}, []string{"cursor"}},
		{"cursor with offset 0", ListQuery{Cursor: str("abc"), Offset: 0}, nil},
		{"all at once, in order", ListQuery{Sort: str("nope"), Limit: num(0), Offset: -1, MinPriority: num(9), Q: long + "x"},
			[]string{"sort", "limit", "offset", "min_priority", "q"}},
	}
	for _, key := range SortKeys {
		tests = append(tests, struct {
			name string
			q    ListQuery
			want []string
		}{"sort " + key, ListQuery{Sort: str(key)}, nil})
	}
	for _, tt := range tests {
		wantFields(t, tt.name, &ValidationError{Fields: tt.q.Check()}, tt.want)
	}
}
