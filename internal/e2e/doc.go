// Package e2e holds kt's end-to-end VRRP tests: the kt binary against
// keepalived 2.2.7 and the kernel in network namespaces (failover, sync
// groups, VMAC, reload, tracking, notify, floods), proving that the
// packages are wired together as a user runs them. The director side and
// the tools (IPVS in the VM, BGP, sniff, mail, applets, the control socket)
// are in internal/e2e/director; both share internal/e2e/e2elab.
package e2e
