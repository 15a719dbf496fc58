package config

import "github.com/mcorun/mcorun/runtime/marshal"

// Item returns a configuration setting by its MCollective attribute name, as rpcutil's
// get_config_item reads Config.instance. Secrets (plugin settings) are never returned.
func (c *Config) Item(name string) (any, bool) {
	switch name {
	case "identity":
		return c.Identity, true
	case "collectives":
		return c.Collectives, true
	case "main_collective":
		return c.MainCollective, true
	case "securityprovider":
		return c.SecurityProvider, true
	case "connector":
		return c.Connector, true
	case "libdir":
		return c.LibDir, true
	case "logfile":
		return c.LogFile, true
	case "loglevel":
		return c.LogLevel, true
	case "logger_type":
		return c.LoggerType, true
	case "factsource":
		return c.FactSource, true
	case "classesfile":
		return c.ClassesFile, true
	case "ttl":
		return int64(c.TTL), true
	case "direct_addressing":
		return c.DirectAddressing, true
	case "direct_addressing_threshold":
		return int64(c.DirectAddressingThreshold), true
	case "publish_timeout":
		return int64(c.PublishTimeout), true
	case "rpclimitmethod":
		return marshal.Symbol(c.RPCLimitMethod), true
	case "default_discovery_method":
		return c.DefaultDiscoveryMethod, true
	case "daemonize":
		return c.Daemonize, true
	case "color":
		return c.Color, true
	case "rpcaudit":
		return c.RPCAudit, true
	case "rpcauthorization":
		return c.RPCAuthorization, true
	case "registerinterval":
		return int64(c.RegisterInterval), true
	case "configfile":
		return c.ConfigFile, true
	}
	return nil, false
}
