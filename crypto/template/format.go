package template

import (
	"fmt"
	"strings"
	"unicode/utf8"
)

// This file bounds the output of fmt before fmt runs. printfSize reads a
// printf format the way fmt does and adds up, for every verb, the most that
// verb can write for the argument it is given; argBound does the same for one
// argument. Formats kseal refuses are those whose output would be wrong in a
// Secret anyway (a missing or extra argument, a bad index, a verb that does
// not apply to its argument's type) or whose size is set by an argument ('*').

// verbSpec is what precedes a verb: the flags that change output size, and the
// width and precision (0 when absent).
type verbSpec struct {
	sharp, space bool
	width, prec  int
}

// printfSize returns an upper bound of len(fmt.Sprintf(format, args...)), or
// an error saying why kseal does not run that format. Once the bound passes
// stop it returns early, with a bound above stop, so that a call which will be
// refused costs no more to size than stop.
func printfSize(format string, args []any, maxWidth, stop int) (int, error) {
	size, argNum, verbs := 0, 0, 0
	reordered := false
	for i := 0; i < len(format); {
		j := strings.IndexByte(format[i:], '%')
		if j < 0 {
			size += len(format) - i
			break
		}
		size += j
		i += j + 1
		verbs++
		var sp verbSpec
	flags:
		for ; i < len(format); i++ {
			switch format[i] {
			case '#':
				sp.sharp = true
			case ' ':
				sp.space = true
			case '0', '+', '-':
			default:
				break flags
			}
		}
		var err error
		if sp.width, i, err = formatNumber(format, i, maxWidth, "width"); err != nil {
			return 0, err
		}
		if i < len(format) && format[i] == '.' {
			if sp.prec, i, err = formatNumber(format, i+1, maxWidth, "precision"); err != nil {
				return 0, err
			}
		}
		explicit := -1
		if i < len(format) && format[i] == '[' {
			if explicit, i, err = formatIndex(format, i, len(args), verbs); err != nil {
				return 0, err
			}
			reordered = true
		}
		if i >= len(format) {
			return 0, usageError("the %% of verb %d is not followed by a verb", verbs)
		}
		verb, w := utf8.DecodeRuneInString(format[i:])
		i += w
		if verb == '%' {
			if explicit >= 0 {
				return 0, usageError("%%%% (verb %d) takes no argument index", verbs)
			}
			size++
			continue
		}
		if explicit >= 0 {
			argNum = explicit
		}
		if argNum >= len(args) {
			return 0, usageError("verb %d (%%%c) has no argument: give one more argument", verbs, verb)
		}
		n, err := argBound(args[argNum], verb, sp, stop)
		if err != nil {
			return 0, err
		}
		size += n
		argNum++
		if size > stop {
			return size, nil
		}
	}
	if !reordered && argNum < len(args) {
		return 0, usageError("%d arguments but only %d are used by the format: remove the others", len(args), argNum)
	}
	return size, nil
}

// formatNumber reads the decimal width or precision at format[i:] (0 if
// there is none), refusing '*' and values above maxWidth.
func formatNumber(format string, i, maxWidth int, what string) (int, int, error) {
	if i < len(format) && format[i] == '*' {
		return 0, i, &funcError{limit: LimitFormat, msg: fmt.Sprintf("a %s given by an argument ('*') is not allowed in kseal templates: write the number in the format", what)}
	}
	n := 0
	for ; i < len(format) && '0' <= format[i] && format[i] <= '9'; i++ {
		n = n*10 + int(format[i]-'0')
		if n > maxWidth {
			return 0, i, &funcError{limit: LimitFormat, msg: fmt.Sprintf("a %s above %d is not allowed in kseal templates", what, maxWidth)}
		}
	}
	return n, i, nil
}

// formatIndex reads an argument index "[n]" at format[i:] and returns it
// 0-based.
func formatIndex(format string, i, numArgs, verb int) (int, int, error) {
	end := strings.IndexByte(format[i:], ']')
	if end < 0 {
		return 0, i, usageError("the argument index of verb %d has no closing ]", verb)
	}
	digits := format[i+1 : i+end]
	n := 0
	for _, c := range []byte(digits) {
		if c < '0' || c > '9' || n > numArgs {
			n = -1
			break
		}
		n = n*10 + int(c-'0')
	}
	if digits == "" || n < 1 || n > numArgs {
		return 0, i, usageError("the argument index of verb %d must be between 1 and %d, the number of arguments", verb, numArgs)
	}
	return n - 1, i + end + 1, nil
}

// argBound returns the most fmt writes for arg under verb and sp, or an
// error if verb does not apply to arg's type. For a map it stops adding once
// the bound passes stop.
func argBound(arg any, verb rune, sp verbSpec, stop int) (int, error) {
	w, p := sp.width, sp.prec
	if verb == 'T' {
		return w + 32, nil
	}
	var verbs string
	var n int
	switch v := arg.(type) {
	case nil:
		verbs, n = "v", w+5
	case string:
		s, ok := stringBound(len(v), verb, sp)
		verbs, n = string(verb), w+s
		if !ok {
			verbs = "sqvxX"
		}
	case map[string]string:
		verbs, n = "sqvxX", w+24
		for k, e := range v {
			ks, _ := stringBound(len(k), verb, sp)
			es, _ := stringBound(len(e), verb, sp)
			n += 2*w + ks + es + 4
			if n > stop {
				break
			}
		}
	case bool:
		verbs, n = "tv", w+5
	case int, int8, int16, int32, int64, uint, uint8, uint16, uint32, uint64, uintptr:
		verbs, n = "bcdoOqxXUv", w+p+80
	case float32, float64:
		verbs, n = "beEfFgGxXv", w+p+340
	case complex64, complex128:
		verbs, n = "beEfFgGxXv", 2*(w+p+340)+3
	default:
		return 0, usageError("a value of type %T cannot be formatted in kseal templates", arg)
	}
	if !strings.ContainsRune(verbs, verb) {
		return 0, usageError("verb %%%c does not apply to a %s: use one of %%%s", verb, typeName(arg), strings.Join(strings.Split(verbs, ""), " %"))
	}
	return n, nil
}

// stringBound is the most fmt writes for a string of n bytes under verb,
// before padding: %q and %#v quote (at most 4 bytes per byte, as \xff), %x
// with "# " writes "0xff " per byte.
func stringBound(n int, verb rune, sp verbSpec) (int, bool) {
	switch {
	case verb == 's', verb == 'v' && !sp.sharp:
		return n, true
	case verb == 'q', verb == 'v':
		return 4*n + 2, true
	case verb == 'x', verb == 'X':
		return 5*n + 2, true
	}
	return 0, false
}

// printBound is the most fmt.Sprint (or, with newline, fmt.Sprintln)
// writes for args: each as %v, with a separator between them. Like
// printfSize, it returns early once the bound passes stop.
func printBound(args []any, newline bool, stop int) (int, error) {
	n := len(args)
	if newline {
		n++
	}
	for _, a := range args {
		b, err := argBound(a, 'v', verbSpec{}, stop)
		if err != nil {
			return 0, err
		}
		n += b
		if n > stop {
			return n, nil
		}
	}
	return n, nil
}

// typeName names arg's type for an error message.
func typeName(arg any) string {
	if arg == nil {
		return "nil"
	}
	return fmt.Sprintf("%T", arg)
}
