// Package config is kt's configuration model and its two formats:
// keepalived.conf (ParseKeepalived, WriteKeepalived) and kt's native TOML
// (LoadTOML, WriteTOML). Both read into the same Config; Validate checks its
// meaning and reports problems as file:line diagnostics.
//
// The model records what the configuration says, not keepalived's defaults:
// an option that was not written stays unset (nil, "" or false), so that a
// conversion writes back exactly what it read. The Effective* helpers in
// defaults.go give the values the engines run with.
//
// Effective returns the configuration keepalived 2.2.7 would run: a copy of
// the model with keepalived's fix-ups applied, each with its diagnostic at
// the file:line keepalived reports it. kt run, kt convert --check and kt
// convert --effective all use it, so what is checked is what runs. A
// Diagnostic's Severity is keepalived's (Error for what keepalived -t
// reports as an error, Warning for its warnings and deprecations). An Error
// keepalived logs and carries on from has CarryOn set and its fix-up in the
// effective model; it does not stop kt run, except under --strict. An Error
// without CarryOn is one keepalived refuses to start with
// (Diagnostics.Refusals).
package config

// Config is one whole configuration.
type Config struct {
	Pos Pos `toml:"-"`

	// Top-level process options.
	NetNamespace        string    `toml:"net_namespace,omitempty"`
	NetNamespaceIPVS    *string   `toml:"net_namespace_ipvs,omitempty"` // [NAME]; alone (""): the default namespace
	NamespaceWithIPSets bool      `toml:"namespace_with_ipsets,omitempty"`
	UsePIDDir           bool      `toml:"use_pid_dir,omitempty"`
	Instance            string    `toml:"instance,omitempty"`
	ChildWaitTime       *Duration `toml:"child_wait_time,omitempty"`
	LinkbeatUsePolling  bool      `toml:"linkbeat_use_polling,omitempty"`

	Global *GlobalDefs `toml:"global_defs,omitempty"`

	LinkbeatInterfaces    []Spec                 `toml:"linkbeat_interfaces,omitempty"`      // IFNAME [MII|ETHTOOL|IOCTL]
	InterfaceUpDownDelays []Args                 `toml:"interface_up_down_delays,omitempty"` // IFNAME DOWN_DELAY [UP_DELAY]
	TrackGroups           map[string]*TrackGroup `toml:"track_group,omitempty"`
	StaticIPAddress       []VIP                  `toml:"static_ipaddress,omitempty"`
	StaticRoutes          []Route                `toml:"static_routes,omitempty"`
	StaticRules           []Rule                 `toml:"static_rules,omitempty"`

	Scripts         map[string]*VRRPScript   `toml:"vrrp_script,omitempty"`
	TrackFiles      map[string]*TrackFile    `toml:"track_file,omitempty"`
	OldTrackFiles   map[string]*TrackFile    `toml:"vrrp_track_file,omitempty"` // deprecated spelling of track_file
	TrackProcesses  map[string]*TrackProcess `toml:"vrrp_track_process,omitempty"`
	BFDInstances    map[string]*BFDInstance  `toml:"bfd_instance,omitempty"`
	SyncGroups      map[string]*SyncGroup    `toml:"vrrp_sync_group,omitempty"`
	GarpGroups      []*GarpGroup             `toml:"garp_group,omitempty"`
	Instances       map[string]*Instance     `toml:"vrrp_instance,omitempty"`
	SSL             *SSLDefs                 `toml:"ssl,omitempty" ka:"SSL"`
	VirtualServerGr map[string]*VSGroup      `toml:"virtual_server_group,omitempty"`
	VirtualServers  []*VirtualServer         `toml:"virtual_server,omitempty"`

	// BGP is kt's own bgp block (config/bgp.go); keepalived has none.
	BGP *BGP `toml:"bgp,omitempty"`

	// Unparsed keeps keywords kt does not know, as written.
	Unparsed Unparsed `toml:"unparsed,omitempty" ka:",unparsed"`
}

// GlobalDefs is the global_defs block.
type GlobalDefs struct {
	Pos Pos `toml:"-"`

	ProcessNames       bool   `toml:"process_names,omitempty"`
	ProcessName        string `toml:"process_name,omitempty"`
	VRRPProcessName    string `toml:"vrrp_process_name,omitempty"`
	CheckerProcessName string `toml:"checker_process_name,omitempty"`
	LVSProcessName     string `toml:"lvs_process_name,omitempty"` // deprecated spelling of checker_process_name
	BFDProcessName     string `toml:"bfd_process_name,omitempty"`

	RouterID              string    `toml:"router_id,omitempty"`
	NotificationEmailFrom string    `toml:"notification_email_from,omitempty"`
	SMTPServer            Endpoint  `toml:"smtp_server,omitempty"`
	SMTPHeloName          string    `toml:"smtp_helo_name,omitempty"`
	SMTPConnectTimeout    *Duration `toml:"smtp_connect_timeout,omitempty" ka:",lenient=u:0:4294:1"`
	NotificationEmail     []string  `toml:"notification_email,omitempty"`
	SMTPAlert             *bool     `toml:"smtp_alert,omitempty"`
	SMTPAlertVRRP         *bool     `toml:"smtp_alert_vrrp,omitempty"`
	SMTPAlertChecker      *bool     `toml:"smtp_alert_checker,omitempty"`
	NoEmailFaults         bool      `toml:"no_email_faults,omitempty"`
	NoCheckerEmails       *bool     `toml:"no_checker_emails,omitempty"`
	// kt's own additions for mail (keepalived has none).
	SMTPUser       string `toml:"smtp_user,omitempty" ka:"-"`
	SMTPPassword   string `toml:"smtp_password,omitempty" ka:"-"`
	SMTPNoStartTLS bool   `toml:"smtp_no_starttls,omitempty" ka:"-"`

	StartupScript         Script    `toml:"startup_script,omitempty"`
	StartupScriptTimeout  *Duration `toml:"startup_script_timeout,omitempty" ka:",lenient=u:1:1000"`
	ShutdownScript        Script    `toml:"shutdown_script,omitempty"`
	ShutdownScriptTimeout *Duration `toml:"shutdown_script_timeout,omitempty" ka:",lenient=u:1:1000"`
	MaxAutoPriority       *int      `toml:"max_auto_priority,omitempty" ka:",bare=99"` // alone: SCHED_RR's maximum, 99 on Linux
	MinAutoPriorityDelay  *Duration `toml:"min_auto_priority_delay,omitempty" ka:",us"`

	CheckerLogAllFailures *bool  `toml:"checker_log_all_failures,omitempty"`
	DynamicInterfaces     Args   `toml:"dynamic_interfaces,omitempty"` // [allow_if_changes]
	DefaultInterface      string `toml:"default_interface,omitempty"`
	DisableLocalIGMP      bool   `toml:"disable_local_igmp,omitempty"`

	LVSTimeouts    Args `toml:"lvs_timeouts,omitempty"` // [tcp N] [tcpfin N] [udp N]
	LVSFlush       bool `toml:"lvs_flush,omitempty"`
	LVSFlushOnStop Args `toml:"lvs_flush_on_stop,omitempty"` // [VS]
	LVSFlushOnstop Args `toml:"lvs_flush_onstop,omitempty"`  // deprecated spelling of lvs_flush_on_stop
	// IFNAME [inst VRRP_INSTANCE] [id N] [maxlen N] [port N] [ttl N] [group ADDR]
	// (or the old IFNAME VRRP_INSTANCE [SYNC_ID])
	LVSSyncDaemon SyncDaemonLine `toml:"lvs_sync_daemon,omitempty"` // syncd.go

	VRRPMcastGroup4           string    `toml:"vrrp_mcast_group4,omitempty"`
	VRRPMcastGroup6           string    `toml:"vrrp_mcast_group6,omitempty"`
	VRRPGarpMasterDelay       *Duration `toml:"vrrp_garp_master_delay,omitempty" ka:",lenient=u:0:4294"`
	VRRPGarpMasterRepeat      *int      `toml:"vrrp_garp_master_repeat,omitempty" ka:",lenient=u:0:4294967295:1"`
	VRRPGarpMasterRefresh     *Duration `toml:"vrrp_garp_master_refresh,omitempty" ka:",lenient=u:0:4294967295,badas=0"`
	VRRPGarpMasterRefreshRep  *int      `toml:"vrrp_garp_master_refresh_repeat,omitempty" ka:",lenient=u:0:4294967295:1"`
	VRRPGarpLowerPrioDelay    *Duration `toml:"vrrp_garp_lower_prio_delay,omitempty" ka:",lenient=u:0:4294"`
	VRRPGarpLowerPrioRepeat   *int      `toml:"vrrp_garp_lower_prio_repeat,omitempty" ka:",lenient=u:0:2147483647"`
	VRRPDownTimerAdverts      *int      `toml:"vrrp_down_timer_adverts,omitempty" ka:",lenient=u:1:100"`
	VRRPGarpInterval          *Duration `toml:"vrrp_garp_interval,omitempty"`
	VRRPGnaInterval           *Duration `toml:"vrrp_gna_interval,omitempty"`
	VRRPMinGarp               *bool     `toml:"vrrp_min_garp,omitempty"`
	VRRPGarpExtraIf           Args      `toml:"vrrp_garp_extra_if,omitempty"`   // [all] SECONDS
	VRRPVmacGarpIntvl         Args      `toml:"vrrp_vmac_garp_intvl,omitempty"` // deprecated spelling of vrrp_garp_extra_if
	VRRPLowerPrioNoAdvert     *bool     `toml:"vrrp_lower_prio_no_advert,omitempty"`
	VRRPHigherPrioSendAdvert  *bool     `toml:"vrrp_higher_prio_send_advert,omitempty"`
	VRRPVersion               *int      `toml:"vrrp_version,omitempty" ka:",lenient=i:2:3"`
	VRRPIPTables              Args      `toml:"vrrp_iptables,omitempty"` // keepalived 2.2.7 takes it as nftables
	VRRPIPSets                Args      `toml:"vrrp_ipsets,omitempty"`
	NFTables                  Args      `toml:"nftables,omitempty"` // [TABLE]
	NFTablesPriority          *int      `toml:"nftables_priority,omitempty"`
	NFTablesIfindex           bool      `toml:"nftables_ifindex,omitempty"`
	NFTablesIPVS              Args      `toml:"nftables_ipvs,omitempty"` // [TABLE]
	NFTablesIPVSPriority      *int      `toml:"nftables_ipvs_priority,omitempty"`
	NFTablesIPVSStartFwmark   *int      `toml:"nftables_ipvs_start_fwmark,omitempty"`
	NFTablesCounters          bool      `toml:"nftables_counters,omitempty"`
	VRRPCheckUnicastSrc       bool      `toml:"vrrp_check_unicast_src,omitempty"`
	VRRPSkipCheckAdvAddr      bool      `toml:"vrrp_skip_check_adv_addr,omitempty"`
	VRRPStrict                bool      `toml:"vrrp_strict,omitempty"`
	VRRPNotifyPriorityChanges *bool     `toml:"vrrp_notify_priority_changes,omitempty"`
	VRRPStartupDelay          *Duration `toml:"vrrp_startup_delay,omitempty"`
	VRRPRxBufsPolicy          Args      `toml:"vrrp_rx_bufs_policy,omitempty"`
	VRRPRxBufsMultiplier      *int      `toml:"vrrp_rx_bufs_multiplier,omitempty"`
	LogUnknownVRIDs           bool      `toml:"log_unknown_vrids,omitempty"`
	VMACPrefix                string    `toml:"vmac_prefix,omitempty"`
	VMACAddrPrefix            string    `toml:"vmac_addr_prefix,omitempty"`

	// Process scheduling, per child process as keepalived has it.
	VRRPPriority        *int `toml:"vrrp_priority,omitempty"`
	VRRPNoSwap          bool `toml:"vrrp_no_swap,omitempty"`
	VRRPRTPriority      *int `toml:"vrrp_rt_priority,omitempty"`
	VRRPCPUAffinity     Args `toml:"vrrp_cpu_affinity,omitempty"`
	VRRPRlimitRTTime    *int `toml:"vrrp_rlimit_rttime,omitempty"`
	VRRPRlimitRTime     *int `toml:"vrrp_rlimit_rtime,omitempty"` // deprecated spelling of vrrp_rlimit_rttime
	CheckerPriority     *int `toml:"checker_priority,omitempty"`
	CheckerNoSwap       bool `toml:"checker_no_swap,omitempty"`
	CheckerRTPriority   *int `toml:"checker_rt_priority,omitempty"`
	CheckerCPUAffinity  Args `toml:"checker_cpu_affinity,omitempty"`
	CheckerRlimitRTTime *int `toml:"checker_rlimit_rttime,omitempty"`
	CheckerRlimitRTime  *int `toml:"checker_rlimit_rtime,omitempty"` // deprecated spelling of checker_rlimit_rttime
	BFDPriority         *int `toml:"bfd_priority,omitempty"`
	BFDNoSwap           bool `toml:"bfd_no_swap,omitempty"`
	BFDRTPriority       *int `toml:"bfd_rt_priority,omitempty"`
	BFDCPUAffinity      Args `toml:"bfd_cpu_affinity,omitempty"`
	BFDRlimitRTTime     *int `toml:"bfd_rlimit_rttime,omitempty"`
	BFDRlimitRTime      *int `toml:"bfd_rlimit_rtime,omitempty"` // deprecated spelling of bfd_rlimit_rttime

	NotifyFIFO                  Args   `toml:"notify_fifo,omitempty"` // PATH [USER [GROUP]]
	NotifyFIFOScript            Script `toml:"notify_fifo_script,omitempty"`
	VRRPNotifyFIFO              Args   `toml:"vrrp_notify_fifo,omitempty"`
	VRRPNotifyFIFOScript        Script `toml:"vrrp_notify_fifo_script,omitempty"`
	LVSNotifyFIFO               Args   `toml:"lvs_notify_fifo,omitempty"`
	LVSNotifyFIFOScript         Script `toml:"lvs_notify_fifo_script,omitempty"`
	FIFOWriteVRRPStatesOnReload bool   `toml:"fifo_write_vrrp_states_on_reload,omitempty"`

	SNMPSocket           string `toml:"snmp_socket,omitempty"`
	EnableTraps          bool   `toml:"enable_traps,omitempty"`
	EnableSNMPVRRP       bool   `toml:"enable_snmp_vrrp,omitempty"`
	EnableSNMPKeepalived bool   `toml:"enable_snmp_keepalived,omitempty"` // deprecated spelling of enable_snmp_vrrp
	EnableSNMPRFC        bool   `toml:"enable_snmp_rfc,omitempty"`
	EnableSNMPRFCv2      bool   `toml:"enable_snmp_rfcv2,omitempty"`
	EnableSNMPRFCv3      bool   `toml:"enable_snmp_rfcv3,omitempty"`
	EnableSNMPChecker    bool   `toml:"enable_snmp_checker,omitempty"`
	EnableDBus           bool   `toml:"enable_dbus,omitempty"`
	DBusServiceName      string `toml:"dbus_service_name,omitempty"`

	ScriptUser           Args `toml:"script_user,omitempty"` // USER [GROUP]
	EnableScriptSecurity bool `toml:"enable_script_security,omitempty"`

	VRRPNetlinkCmdRcvBufs          *int  `toml:"vrrp_netlink_cmd_rcv_bufs,omitempty"`
	VRRPNetlinkCmdRcvBufsForce     *bool `toml:"vrrp_netlink_cmd_rcv_bufs_force,omitempty"`
	VRRPNetlinkMonitorRcvBufs      *int  `toml:"vrrp_netlink_monitor_rcv_bufs,omitempty"`
	VRRPNetlinkMonitorRcvBufsForce *bool `toml:"vrrp_netlink_monitor_rcv_bufs_force,omitempty"`
	ProcessMonitorRcvBufs          *int  `toml:"process_monitor_rcv_bufs,omitempty"`
	ProcessMonitorRcvBufsForce     *bool `toml:"process_monitor_rcv_bufs_force,omitempty"`
	LVSNetlinkCmdRcvBufs           *int  `toml:"lvs_netlink_cmd_rcv_bufs,omitempty"`
	LVSNetlinkCmdRcvBufsForce      *bool `toml:"lvs_netlink_cmd_rcv_bufs_force,omitempty"`
	LVSNetlinkMonitorRcvBufs       *int  `toml:"lvs_netlink_monitor_rcv_bufs,omitempty"`
	LVSNetlinkMonitorRcvBufsForce  *bool `toml:"lvs_netlink_monitor_rcv_bufs_force,omitempty"`
	RSInitNotifies                 *bool `toml:"rs_init_notifies,omitempty"`

	Umask              Text    `toml:"umask,omitempty"` // octal, or bit names: IWGRP | IWOTH
	RandomSeed         *int64  `toml:"random_seed,omitempty"`
	ReloadCheckConfig  *string `toml:"reload_check_config,omitempty"` // [LOG_FILE]
	ReloadTimeFile     string  `toml:"reload_time_file,omitempty"`
	ReloadRepeat       bool    `toml:"reload_repeat,omitempty"`
	ReloadFile         *string `toml:"reload_file,omitempty"` // [FILE]
	IncludeCheck       Args    `toml:"include_check,omitempty"`
	ConfigSaveDir      string  `toml:"config_save_dir,omitempty"`
	TmpConfigDirectory string  `toml:"tmp_config_directory,omitempty"`
	DataUseInstance    *bool   `toml:"data_use_instance,omitempty"`

	Unparsed Unparsed `toml:"unparsed,omitempty" ka:",unparsed"`
}

// TrackGroup is a track_group block: a named group of VRRP instances that
// static addresses, routes and rules follow.
type TrackGroup struct {
	Pos      Pos      `toml:"-"`
	Name     string   `toml:"-"`
	Group    []string `toml:"group,omitempty"`
	Unparsed Unparsed `toml:"unparsed,omitempty" ka:",unparsed"`
}

// SSLDefs is the SSL block: the client certificate SSL_GET checks present.
type SSLDefs struct {
	Pos         Pos      `toml:"-"`
	Password    string   `toml:"password,omitempty"`
	CA          string   `toml:"ca,omitempty"`
	Certificate string   `toml:"certificate,omitempty"`
	Key         string   `toml:"key,omitempty"`
	Unparsed    Unparsed `toml:"unparsed,omitempty" ka:",unparsed"`
}
