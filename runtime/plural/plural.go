// Package plural writes counts in English: "1 node", "2 nodes". It is the one plural rule
// of the messages mcorun and its playbook library print.
package plural

import "strconv"

// Word is one when n is 1 (or -1), else many.
func Word(n int, one, many string) string {
	if n == 1 || n == -1 {
		return one
	}
	return many
}

// Count is n followed by the noun in the right number: Count(1, "node", "nodes") is
// "1 node", Count(0, "node", "nodes") is "0 nodes".
func Count(n int, one, many string) string {
	return strconv.Itoa(n) + " " + Word(n, one, many)
}
