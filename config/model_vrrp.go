package config

// VRRPScript is a vrrp_script block: a command run every interval whose exit
// status adds or subtracts weight, or faults the instances tracking it.
type VRRPScript struct {
	Pos      Pos       `toml:"-"`
	Name     string    `toml:"-"`
	Script   Script    `toml:"script,omitempty" ka:",first"` // the user is vrrp_script's own user line
	Interval *Duration `toml:"interval,omitempty" ka:",lenient=u:0:4294:1"`
	Timeout  *Duration `toml:"timeout,omitempty" ka:",lenient=u:0:4294:1"`
	Weight   Weight    `toml:"weight,omitempty"`
	Rise     *int      `toml:"rise,omitempty" ka:",lenient=u:1:2147483647"`
	Fall     *int      `toml:"fall,omitempty" ka:",lenient=u:1:2147483647"`
	User     Args      `toml:"user,omitempty"` // USER [GROUP]
	InitFail bool      `toml:"init_fail,omitempty"`
	Unparsed Unparsed  `toml:"unparsed,omitempty" ka:",unparsed"`
}

// TrackFile is a track_file block: a file holding an integer that, times
// the weight, is added to the priority of the instances tracking it.
type TrackFile struct {
	Pos      Pos      `toml:"-"`
	Name     string   `toml:"-"`
	File     string   `toml:"file,omitempty"`
	Weight   Weight   `toml:"weight,omitempty"`
	InitFile Args     `toml:"init_file,omitempty"`
	Unparsed Unparsed `toml:"unparsed,omitempty" ka:",unparsed"`
}

// TrackProcess is a vrrp_track_process block: whether enough copies of a
// process are running.
type TrackProcess struct {
	Pos            Pos       `toml:"-"`
	Name           string    `toml:"-"`
	Process        Args      `toml:"process,omitempty"`     // NAME [ARGS...]
	ParamMatch     *string   `toml:"param_match,omitempty"` // [initial|partial]; alone (""): exact
	Weight         Weight    `toml:"weight,omitempty"`
	Quorum         *int      `toml:"quorum,omitempty" ka:",lenient=u:1:65535"`
	QuorumMax      *int      `toml:"quorum_max,omitempty" ka:",lenient=u:0:65535"`
	Delay          *Duration `toml:"delay,omitempty"`
	TerminateDelay *Duration `toml:"terminate_delay,omitempty"`
	ForkDelay      *Duration `toml:"fork_delay,omitempty"`
	FullCommand    bool      `toml:"full_command,omitempty"`
	Unparsed       Unparsed  `toml:"unparsed,omitempty" ka:",unparsed"`
}

// BFDInstance is a bfd_instance block.
type BFDInstance struct {
	Pos        Pos       `toml:"-"`
	Name       string    `toml:"-"`
	Neighbor   string    `toml:"neighbor_ip,omitempty"`
	Neighbour  string    `toml:"neighbour_ip,omitempty"` // synonym of neighbor_ip
	Source     string    `toml:"source_ip,omitempty"`
	MinRx      *Duration `toml:"min_rx,omitempty" ka:",ms"`
	MinTx      *Duration `toml:"min_tx,omitempty" ka:",ms"`
	IdleTx     *Duration `toml:"idle_tx,omitempty" ka:",ms"`
	Multiplier *int      `toml:"multiplier,omitempty"`
	Passive    bool      `toml:"passive,omitempty"`
	TTL        *int      `toml:"ttl,omitempty"`
	HopLimit   *int      `toml:"hoplimit,omitempty"` // synonym of ttl, for IPv6
	MaxHops    *int      `toml:"max_hops,omitempty"`
	Weight     Weight    `toml:"weight,omitempty"`
	// VRRP and Checker send this instance's events only to the VRRP or
	// checker process (both when neither is set).
	VRRP     bool     `toml:"vrrp,omitempty"`
	Checker  bool     `toml:"checker,omitempty"`
	Unparsed Unparsed `toml:"unparsed,omitempty" ka:",unparsed"`
	// Disabled says why validation took the instance out of the BFD
	// engine (keepalived's "disabling instance"); trackers still know it.
	Disabled string `toml:"-"`
}

// SyncGroup is a vrrp_sync_group block: instances that change state together.
type SyncGroup struct {
	Pos                     Pos      `toml:"-"`
	Name                    string   `toml:"-"`
	Group                   []string `toml:"group,omitempty"`
	TrackInterface          []Track  `toml:"track_interface,omitempty"`
	TrackScript             []Track  `toml:"track_script,omitempty"`
	TrackFile               []Track  `toml:"track_file,omitempty"`
	TrackProcess            []Track  `toml:"track_process,omitempty"`
	TrackBFD                []Track  `toml:"track_bfd,omitempty"`
	NotifyMaster            Script   `toml:"notify_master,omitempty"`
	NotifyBackup            Script   `toml:"notify_backup,omitempty"`
	NotifyFault             Script   `toml:"notify_fault,omitempty"`
	NotifyStop              Script   `toml:"notify_stop,omitempty"`
	Notify                  Script   `toml:"notify,omitempty"`
	SMTPAlert               *bool    `toml:"smtp_alert,omitempty"`
	GlobalTracking          bool     `toml:"global_tracking,omitempty"` // deprecated: sync_group_tracking_weight
	SyncGroupTrackingWeight bool     `toml:"sync_group_tracking_weight,omitempty"`
	NotifyPriorityChanges   *bool    `toml:"notify_priority_changes,omitempty"`
	Unparsed                Unparsed `toml:"unparsed,omitempty" ka:",unparsed"`
}

// GarpGroup is a garp_group block: gratuitous ARP pacing for interfaces.
type GarpGroup struct {
	Pos          Pos       `toml:"-"`
	GarpInterval *Duration `toml:"garp_interval,omitempty"`
	GnaInterval  *Duration `toml:"gna_interval,omitempty"`
	Interface    string    `toml:"interface,omitempty"`
	Interfaces   []string  `toml:"interfaces,omitempty"`
	Unparsed     Unparsed  `toml:"unparsed,omitempty" ka:",unparsed"`
}

// Instance is a vrrp_instance block: one virtual router on one interface.
type Instance struct {
	Pos  Pos    `toml:"-"`
	Name string `toml:"-"`

	State           string    `toml:"state,omitempty"` // MASTER or BACKUP
	Interface       string    `toml:"interface,omitempty"`
	VRF             string    `toml:"vrf,omitempty"`
	VirtualRouterID *int      `toml:"virtual_router_id,omitempty"`
	Priority        *int      `toml:"priority,omitempty"`
	AdvertInt       *Duration `toml:"advert_int,omitempty"`
	Version         *int      `toml:"version,omitempty" ka:",lenient=i:2:3"`

	UseVMAC            Args `toml:"use_vmac,omitempty"` // [NAME] [MAC], either or both
	UseVMACAddr        bool `toml:"use_vmac_addr,omitempty"`
	VMACXmitBase       bool `toml:"vmac_xmit_base,omitempty"`
	UseIPVLAN          Args `toml:"use_ipvlan,omitempty"`  // [NAME] [ADDRESS] [bridge|private|vepa]
	NativeIPv6         bool `toml:"native_ipv6,omitempty"` // deprecated: the addresses decide
	DontTrackPrimary   bool `toml:"dont_track_primary,omitempty"`
	LinkbeatUsePolling bool `toml:"linkbeat_use_polling,omitempty"` // deprecated: linkbeat_interfaces

	McastSrcIP         string `toml:"mcast_src_ip,omitempty"`
	UnicastSrcIP       string `toml:"unicast_src_ip,omitempty"`
	McastDstIP         string `toml:"mcast_dst_ip,omitempty"`
	TrackSrcIP         bool   `toml:"track_src_ip,omitempty"`
	UnicastPeer        []Peer `toml:"unicast_peer,omitempty"`
	UnicastTTL         *int   `toml:"unicast_ttl,omitempty"`
	UnicastFaultNoPeer bool   `toml:"unicast_fault_no_peer,omitempty"`
	CheckUnicastSrc    bool   `toml:"check_unicast_src,omitempty"`
	OldUnicastChecksum Args   `toml:"old_unicast_checksum,omitempty"` // [never]

	Authentication *Auth `toml:"authentication,omitempty"`

	VirtualIPAddress         []VIP   `toml:"virtual_ipaddress,omitempty"`
	VirtualIPAddressExcluded []VIP   `toml:"virtual_ipaddress_excluded,omitempty"`
	PromoteSecondaries       bool    `toml:"promote_secondaries,omitempty"`
	VirtualRoutes            []Route `toml:"virtual_routes,omitempty"`
	VirtualRules             []Rule  `toml:"virtual_rules,omitempty"`

	TrackInterface []Track `toml:"track_interface,omitempty"`
	TrackScript    []Track `toml:"track_script,omitempty"`
	TrackFile      []Track `toml:"track_file,omitempty"`
	TrackProcess   []Track `toml:"track_process,omitempty"`
	TrackBFD       []Track `toml:"track_bfd,omitempty"`

	Accept   bool `toml:"accept,omitempty"`
	NoAccept bool `toml:"no_accept,omitempty"`
	// SkipCheckAdvAddr takes an optional BOOL, but keepalived 2.2.7 turns
	// the check off for any valid BOOL, false included.
	SkipCheckAdvAddr *bool     `toml:"skip_check_adv_addr,omitempty"`
	StrictMode       *bool     `toml:"strict_mode,omitempty"`
	Preempt          bool      `toml:"preempt,omitempty"`
	NoPreempt        bool      `toml:"nopreempt,omitempty"`
	PreemptDelay     *Duration `toml:"preempt_delay,omitempty"`
	Debug            *int      `toml:"debug,omitempty" ka:",lenient=u:0:4"`

	NotifyBackup           Script    `toml:"notify_backup,omitempty"`
	NotifyMaster           Script    `toml:"notify_master,omitempty"`
	NotifyFault            Script    `toml:"notify_fault,omitempty"`
	NotifyStop             Script    `toml:"notify_stop,omitempty"`
	NotifyDeleted          OptScript `toml:"notify_deleted,omitempty"` // may be written alone
	Notify                 Script    `toml:"notify,omitempty"`
	NotifyMasterRxLowerPri Script    `toml:"notify_master_rx_lower_pri,omitempty"`
	SMTPAlert              *bool     `toml:"smtp_alert,omitempty"`
	NotifyPriorityChanges  *bool     `toml:"notify_priority_changes,omitempty"`

	LVSSyncDaemonInterface string `toml:"lvs_sync_daemon_interface,omitempty"` // deprecated: global lvs_sync_daemon

	GarpMasterDelay         *Duration `toml:"garp_master_delay,omitempty" ka:",lenient=u:0:4294"`
	GarpMasterRefresh       *Duration `toml:"garp_master_refresh,omitempty" ka:",lenient=u:0:4294967295,badas=0"`
	GarpMasterRepeat        *int      `toml:"garp_master_repeat,omitempty" ka:",lenient=u:0:4294967295:1"`
	GarpMasterRefreshRepeat *int      `toml:"garp_master_refresh_repeat,omitempty" ka:",lenient=u:0:4294967295:1"`
	GarpLowerPrioDelay      *Duration `toml:"garp_lower_prio_delay,omitempty" ka:",lenient=u:0:4294"`
	GarpLowerPrioRepeat     *int      `toml:"garp_lower_prio_repeat,omitempty" ka:",lenient=u:0:2147483647"`
	DownTimerAdverts        *int      `toml:"down_timer_adverts,omitempty" ka:",lenient=u:1:100"`
	GarpExtraIf             Args      `toml:"garp_extra_if,omitempty"`   // [all] SECONDS
	VMACGarpIntvl           Args      `toml:"vmac_garp_intvl,omitempty"` // deprecated spelling of garp_extra_if
	LowerPrioNoAdvert       *bool     `toml:"lower_prio_no_advert,omitempty"`
	HigherPrioSendAdvert    *bool     `toml:"higher_prio_send_advert,omitempty"`
	KernelRxBufSize         *int      `toml:"kernel_rx_buf_size,omitempty"`

	Unparsed Unparsed `toml:"unparsed,omitempty" ka:",unparsed"`
	// Fault says why the instance is held in FAULT from the start, as
	// keepalived holds an instance with a configuration fault
	// (unicast_fault_no_peer without peers; an interface without
	// multicast for a multicast instance); set by validation, "" when the
	// instance runs.
	Fault string `toml:"-"`
}

// Auth is an instance's authentication block.
type Auth struct {
	Pos      Pos      `toml:"-"`
	AuthType string   `toml:"auth_type,omitempty"` // PASS or AH
	AuthPass string   `toml:"auth_pass,omitempty"`
	Unparsed Unparsed `toml:"unparsed,omitempty" ka:",unparsed"`
}
