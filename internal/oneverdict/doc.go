// Package oneverdict holds no code, only the test that ties config's
// verdicts to the engines: whenever Validate reports no error for a
// configuration, every engine kt run builds from it (the VRRP instances
// and static addresses, the checkers, the desired IPVS table, the mailer)
// builds without error. `kt convert --check` and `kt run` must never
// disagree about a file.
package oneverdict
