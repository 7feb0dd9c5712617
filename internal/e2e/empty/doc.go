// Package empty runs kt and keepalived 2.2.7 on a configuration that gives
// them nothing to run, and reloads them into one that does and back: a
// keepalived user's kt must neither refuse to start where keepalived waits
// nor refuse a reload keepalived applies.
package empty
