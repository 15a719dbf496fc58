package starlib

import (
	"fmt"
	"strings"

	"go.starlark.net/starlark"

	"github.com/mcorun/mcorun/runtime/plural"
)

// Traceback limits: a frame repeated more than repeatShown times in a row is shown that
// many times, then counted, as Python does; a traceback still longer than 2*edgeShown lines
// (mutual recursion) keeps its first and last edgeShown lines.
const (
	repeatShown = 3
	edgeShown   = 25
)

// Backtrace is e.Backtrace() kept readable when the stack is deep: a recursive playbook's
// stack overflow prints a few dozen lines, each shortening saying how many frames it left
// out ("[Previous line repeated 99996 more times]"), instead of one line per frame.
func Backtrace(e *starlark.EvalError) string {
	_, builtin := playbookFrames(e)
	suffix := ""
	if builtin != "" {
		suffix = " in " + builtin
	}
	var b strings.Builder
	if st := Stack(e); st != "" {
		b.WriteString(st + "\n")
	}
	fmt.Fprintf(&b, "Error%s: %s", suffix, e.Msg)
	return b.String()
}

// Stack is the call stack of e as Backtrace prints it, shortened the same way, without the
// error line and without the innermost builtin's frame: what a run prints below an error
// message it has already printed once. It is "" when no playbook frame is left.
func Stack(e *starlark.EvalError) string {
	stack, _ := playbookFrames(e)
	if len(stack) == 0 {
		return ""
	}
	var b strings.Builder
	b.WriteString("Traceback (most recent call last):")
	for _, l := range shortenFrames(stack) {
		b.WriteString("\n  " + l.text)
	}
	return b.String()
}

// playbookFrames are e's frames without the innermost one when that is a builtin, whose
// name it returns.
func playbookFrames(e *starlark.EvalError) (starlark.CallStack, string) {
	stack := e.CallStack
	if last := len(stack) - 1; last >= 0 && stack[last].Pos.Filename() == "<builtin>" {
		return stack[:last], stack[last].Name
	}
	return stack, ""
}

// traceLine is one line of a traceback and the number of frames it stands for.
type traceLine struct {
	text   string
	frames int
}

func shortenFrames(stack starlark.CallStack) []traceLine {
	var lines []traceLine
	for i := 0; i < len(stack); {
		text := fmt.Sprintf("%s: in %s", stack[i].Pos, stack[i].Name)
		run := 1
		for i+run < len(stack) && stack[i+run] == stack[i] {
			run++
		}
		for k := 0; k < min(run, repeatShown); k++ {
			lines = append(lines, traceLine{text, 1})
		}
		if extra := run - repeatShown; extra > 0 {
			lines = append(lines, traceLine{fmt.Sprintf("[Previous line repeated %d more %s]", extra, plural.Word(extra, "time", "times")), extra})
		}
		i += run
	}
	if len(lines) <= 2*edgeShown {
		return lines
	}
	left := 0
	for _, l := range lines[edgeShown : len(lines)-edgeShown] {
		left += l.frames
	}
	out := append([]traceLine(nil), lines[:edgeShown]...)
	out = append(out, traceLine{fmt.Sprintf("[%d more frames left out]", left), left})
	return append(out, lines[len(lines)-edgeShown:]...)
}
