#include "machine/cli.h"

#include <errno.h>
#include <getopt.h>
#include <limits.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "boot/boot.h"
#include "services/size.h"

#define DEFAULT_CPUS   1
#define DEFAULT_MEMORY (512ULL << 20)

enum { OPT_KERNEL = 0x100, OPT_INITRD, OPT_CMDLINE, OPT_CPUS, OPT_MEMORY, OPT_IRQ, OPT_IRQCHIP, OPT_STATS,
       OPT_IRQ_TEST_FDS, OPT_DISK, OPT_NET, OPT_RNG, OPT_VSOCK, OPT_DUMP_DTB,
       OPT_SECCOMP, OPT_TRANSPORT, OPT_API_SOCK, OPT_ID, OPT_CONFIG_FILE, OPT_NO_API };

static const struct option run_options[] = {
	{ "kernel",  required_argument, NULL, OPT_KERNEL },
	{ "initrd",  required_argument, NULL, OPT_INITRD },
	{ "cmdline", required_argument, NULL, OPT_CMDLINE },
	{ "cpus",    required_argument, NULL, OPT_CPUS },
	{ "memory",  required_argument, NULL, OPT_MEMORY },
	{ "irq",     required_argument, NULL, OPT_IRQ },
	{ "irqchip", required_argument, NULL, OPT_IRQCHIP },
	{ "stats",   no_argument,       NULL, OPT_STATS },
	/* Benchmarks only (bench/irqlat's epoll peer, testdev/irq_test.h): not in --help. */
	{ "irq-test-fds", required_argument, NULL, OPT_IRQ_TEST_FDS },
	{ "disk",    required_argument, NULL, OPT_DISK },
	{ "net",     required_argument, NULL, OPT_NET },
	{ "rng",     no_argument,       NULL, OPT_RNG },
	{ "vsock",   required_argument, NULL, OPT_VSOCK },
	{ "transport", required_argument, NULL, OPT_TRANSPORT },
	{ "dump-dtb", required_argument, NULL, OPT_DUMP_DTB },
	{ "seccomp", required_argument, NULL, OPT_SECCOMP },
	{ "api-sock", required_argument, NULL, OPT_API_SOCK },
	{ "id",      required_argument, NULL, OPT_ID },
	{ "config-file", required_argument, NULL, OPT_CONFIG_FILE },
	{ "no-api",  no_argument,       NULL, OPT_NO_API },
	{ "help",    no_argument,       NULL, 'h' },
	{ NULL, 0, NULL, 0 },
};

void cli_usage(FILE *out)
{
	fputs("usage: ringvm run [OPTIONS] [-- GUEST ARGS]\n"
	      "       ringvm [run] --api-sock PATH [--id ID] [--config-file FILE] [OPTIONS]\n"
	      "       ringvm [run] --config-file FILE --no-api [OPTIONS]\n"
	      "       ringvm --help | --version\n"
	      "\n"
	      "Boots a virtual machine on KVM. Without --kernel it boots the built-in\n"
	      "guest, which reports what it sees and runs the self-tests named in its\n"
	      "arguments (e.g. `ringvm run -- test=serial,smp`).\n"
	      "\n"
	      "options:\n"
	      "  --kernel FILE     kernel to boot: a bzImage, or an ELF with a PVH entry note\n"
	      "                    or a Multiboot header\n"
	      "  --initrd FILE     initial ramdisk for the kernel\n"
	      "  --cmdline STR     kernel command line\n"
	      "  --cpus N          number of vCPUs, 1-254 (default 1)\n"
	      "  --memory SIZE     guest RAM, e.g. 512M or 2G; a bare number is MiB (default 512M)\n"
	      "  --irq PATH        how device interrupts reach KVM: irqfd (default), msi\n"
	      "                    (KVM_SIGNAL_MSI) or line (KVM_IRQ_LINE)\n"
	      "  --irqchip MODE    kernel (default: PIC, IOAPIC and PIT in KVM) or split\n"
	      "                    (LAPICs in KVM, the IOAPIC in ringvm)\n"
	      "  --disk path=FILE[,readonly=on][,direct=on][,queues=N][,serial=S]\n"
	      "         [,iothread=T|A-B]\n"
	      "                    a virtio-blk disk on a raw image (repeatable); queues\n"
	      "                    default to one per vCPU; iothread: 1-8 runs its queues on\n"
	      "                    I/O thread T (ringvm-ioT), A-B spreads them (queue i on\n"
	      "                    A + i mod (B-A+1)); 0 or absent: the main loop\n"
	      "  --net tap=NAME[,mac=XX:XX:XX:XX:XX:XX][,queues=N][,iothread=T]\n"
	      "                    a virtio-net device on an existing tap (repeatable);\n"
	      "                    queues: 1-7 queue pairs (default 1); iothread: 1-8 runs\n"
	      "                    all of them on I/O thread T; 0 or absent: the main loop\n"
	      "  --rng             a virtio-rng device fed by the host kernel\n"
	      "  --vsock cid=N,uds=PATH\n"
	      "                    a virtio-vsock device (guest CID N >= 3): host clients\n"
	      "                    connect to PATH and send \"CONNECT <port>\\n\"; the guest's\n"
	      "                    connections to host port P reach a listener at PATH_P\n"
	      "  --transport T     how the virtio devices attach: pci (default) or mmio\n"
	      "                    (virtio-mmio, announced in ACPI and on the command line,\n"
	      "                    for guests booted with pci=off)\n"
	      "  --stats           print each vCPU's posted-interrupt counters at exit\n"
	      "  --dump-dtb FILE   write the machine description (a flattened device tree)\n"
	      "                    to FILE and exit without running the guest\n"
	      "  --seccomp MODE    each thread's system call allow-list: kill (default: a\n"
	      "                    forbidden call ends ringvm and says which), log (the\n"
	      "                    kernel logs it and lets it through) or off\n"
	      "  --api-sock PATH   serve Firecracker's API on this unix socket; the VM is\n"
	      "                    described and started through it (see README)\n"
	      "  --id ID           the instance's id, as GET / reports it\n"
	      "  --config-file FILE  start the VM described by this Firecracker JSON file\n"
	      "  --no-api          with --config-file: no API socket\n"
	      "                    (with these, the VM's kernel, vCPUs, memory, disks and\n"
	      "                    network devices come from the API or the file only)\n"
	      "  -h, --help        show this help\n"
	      "\n"
	      "GUEST ARGS are appended to the kernel command line.\n"
	      "The console is stdin/stdout; on a terminal, Ctrl-A x quits.\n"
	      "Exit status: the guest's (debug-exit port or power-off), 1 on a runtime\n"
	      "error, 2 on bad usage, 128+N when stopped by signal N.\n",
	      out);
}

static int parse_cpus(const char *text, unsigned *out, struct error *err)
{
	char *end;

	errno = 0;
	unsigned long v = strtoul(text, &end, 10);
	if (text[0] < '0' || text[0] > '9' || *end || errno)
		return error_set(err, EINVAL, "--cpus '%s': not a number", text);
	if (v < 1 || v > CONFIG_MAX_CPUS)
		return error_set(err, EINVAL, "--cpus %s: must be between 1 and %d",
				 text, CONFIG_MAX_CPUS);
	*out = (unsigned)v;
	return 0;
}

static int parse_memory(const char *text, uint64_t *out, struct error *err)
{
	char min[32], max[32];
	uint64_t bytes;

	int r = size_parse(text, 1ULL << 20, &bytes);
	if (r == -EINVAL)
		return error_set(err, EINVAL, "--memory '%s': not a size (try 512M or 2G)", text);
	if (r || bytes < CONFIG_MIN_MEMORY || bytes > CONFIG_MAX_MEMORY)
		return error_set(err, EINVAL, "--memory %s: must be between %s and %s", text,
				 size_format(CONFIG_MIN_MEMORY, min, sizeof(min)),
				 size_format(CONFIG_MAX_MEMORY, max, sizeof(max)));
	if (bytes & 4095)
		return error_set(err, EINVAL, "--memory %s: must be a multiple of 4 KiB", text);
	*out = bytes;
	return 0;
}

static int parse_irqchip(const char *text, enum irqchip_mode *out, struct error *err)
{
	if (!strcmp(text, "kernel"))
		*out = IRQCHIP_KERNEL;
	else if (!strcmp(text, "split"))
		*out = IRQCHIP_SPLIT;
	else
		return error_set(err, EINVAL, "--irqchip '%s': must be kernel or split", text);
	return 0;
}

static int parse_fd_pair(const char *text, int fds[2], struct error *err)
{
	unsigned long a, b;
	char *end;

	errno = 0;
	a = strtoul(text, &end, 10);
	if (end != text && *end == ',') {
		const char *second = end + 1;
		b = strtoul(second, &end, 10);
		if (end != second && !*end && !errno && a <= INT_MAX && b <= INT_MAX &&
		    text[0] >= '0' && text[0] <= '9' && second[0] >= '0' && second[0] <= '9') {
			fds[0] = (int)a;
			fds[1] = (int)b;
			return 0;
		}
	}
	return error_set(err, EINVAL, "--irq-test-fds '%s': expected two fd numbers, as 5,6", text);
}

/* Splits "key=value,key=value" in place; calls set for each pair, stopping at an error. */
static int parse_kv(const char *option, const char *text, char *buf, size_t size,
		    int (*set)(void *obj, const char *key, const char *value), void *obj,
		    struct error *err)
{
	if (strlen(text) >= size)
		return error_set(err, EINVAL, "%s: option string too long", option);
	strcpy(buf, text);
	for (char *save, *kv = strtok_r(buf, ",", &save); kv; kv = strtok_r(NULL, ",", &save)) {
		char *value = strchr(kv, '=');
		if (!value)
			return error_set(err, EINVAL, "%s '%s': '%s' is not key=value", option, text, kv);
		*value++ = '\0';
		if (set(obj, kv, value))
			return error_set(err, EINVAL, "%s '%s': bad or unknown '%s=%s'", option, text, kv,
					 value);
	}
	return 0;
}

static int parse_on_off(const char *value, bool *out)
{
	if (!strcmp(value, "on"))
		*out = true;
	else if (!strcmp(value, "off"))
		*out = false;
	else
		return -EINVAL;
	return 0;
}

static int parse_queues(const char *value, unsigned *out)
{
	char *end;
	unsigned long n = strtoul(value, &end, 10);

	if (*end || value[0] < '1' || value[0] > '9' || n > VIRTIO_MAX_QUEUES)
		return -EINVAL;
	*out = (unsigned)n;
	return 0;
}

/*
 * "N" or "A-B" (A <= B) into the first thread and how many; numbers past the last thread
 * are kept past it, so that the caller, which knows the device, names the limit.
 */
static int parse_iothreads(const char *value, unsigned *first, unsigned *count)
{
	const unsigned long past = CONFIG_MAX_IOTHREADS + 1;
	char *end;

	if (value[0] < '0' || value[0] > '9')
		return -EINVAL;
	errno = 0;
	unsigned long a = strtoul(value, &end, 10), b = a;
	if (*end == '-') {
		const char *second = end + 1;
		if (second[0] < '0' || second[0] > '9')
			return -EINVAL;
		b = strtoul(second, &end, 10);
	}
	if (*end || errno || b < a)
		return -EINVAL;
	a = a < past ? a : past;
	b = b < past ? b : past;
	*first = (unsigned)a;
	*count = (unsigned)(b - a + 1);
	return 0;
}

/* The iothread= of a device, once parsed: one line saying what is wrong with it, or 0. */
static int check_iothreads(const char *option, const char *text, unsigned first, unsigned count,
			   bool spread_ok, struct error *err)
{
	if (count > 1 && !spread_ok)
		return error_set(err, EINVAL, "%s '%s': iothread= takes one thread here: a network "
				 "device's queues share their state", option, text);
	if (count > 1 && first == 0)
		return error_set(err, EINVAL, "%s '%s': an iothread= range names I/O threads, 1 to %d "
				 "(the main loop is 0, alone)", option, text, CONFIG_MAX_IOTHREADS);
	if (first + count - 1 > CONFIG_MAX_IOTHREADS)
		return error_set(err, EINVAL, "%s '%s': iothread= must be between 0 (the main loop) "
				 "and %d", option, text, CONFIG_MAX_IOTHREADS);
	return 0;
}

static int set_disk(void *obj, const char *key, const char *value)
{
	struct disk_config *d = obj;

	if (!strcmp(key, "path") && *value && strlen(value) < sizeof(d->path))
		strcpy(d->path, value);
	else if (!strcmp(key, "readonly"))
		return parse_on_off(value, &d->readonly);
	else if (!strcmp(key, "direct"))
		return parse_on_off(value, &d->direct);
	else if (!strcmp(key, "queues"))
		return parse_queues(value, &d->queues);
	else if (!strcmp(key, "serial") && strlen(value) <= BLK_SERIAL_MAX)
		strcpy(d->serial, value);
	else if (!strcmp(key, "iothread"))
		return parse_iothreads(value, &d->iothread, &d->nr_iothreads);
	else
		return -EINVAL;
	return 0;
}

static int set_net(void *obj, const char *key, const char *value)
{
	struct net_config *n = obj;
	unsigned m[6];
	char tail;

	if (!strcmp(key, "tap") && *value && strlen(value) < sizeof(n->tap)) {
		strcpy(n->tap, value);
	} else if (!strcmp(key, "mac") &&
		   sscanf(value, "%2x:%2x:%2x:%2x:%2x:%2x%c", &m[0], &m[1], &m[2], &m[3], &m[4], &m[5],
			  &tail) == 6 && !(m[0] & 1)) {
		for (int i = 0; i < 6; i++)
			n->mac[i] = (uint8_t)m[i];
		n->has_mac = true;       /* unicast only: bit 0 of the first byte is the group bit */
	} else if (!strcmp(key, "queues")) {
		return parse_queues(value, &n->queue_pairs);
	} else if (!strcmp(key, "iothread")) {
		return parse_iothreads(value, &n->iothread, &n->nr_iothreads);
	} else {
		return -EINVAL;
	}
	return 0;
}

static int parse_disk(const char *text, struct vm_config *cfg, struct error *err)
{
	char buf[sizeof(cfg->disks[0].path) + 256];

	if (cfg->nr_disks == CONFIG_MAX_DISKS)
		return error_set(err, EINVAL, "--disk: at most %d disks", CONFIG_MAX_DISKS);
	struct disk_config *d = &cfg->disks[cfg->nr_disks];
	*d = (struct disk_config){ .nr_iothreads = 1 };
	int r = parse_kv("--disk", text, buf, sizeof(buf), set_disk, d, err);
	if (!r && !d->path[0])
		r = error_set(err, EINVAL, "--disk '%s': path=FILE is required", text);
	if (!r)
		r = check_iothreads("--disk", text, d->iothread, d->nr_iothreads, true, err);
	if (!r)
		cfg->nr_disks++;
	return r;
}

static int parse_net(const char *text, struct vm_config *cfg, struct error *err)
{
	char buf[256];

	if (cfg->nr_nets == CONFIG_MAX_NETS)
		return error_set(err, EINVAL, "--net: at most %d network devices", CONFIG_MAX_NETS);
	struct net_config *n = &cfg->nets[cfg->nr_nets];
	*n = (struct net_config){ .queue_pairs = 1, .nr_iothreads = 1 };
	int r = parse_kv("--net", text, buf, sizeof(buf), set_net, n, err);
	if (!r && !n->tap[0])
		r = error_set(err, EINVAL, "--net '%s': tap=NAME is required", text);
	if (!r && n->queue_pairs > NET_MAX_PAIRS)
		r = error_set(err, EINVAL, "--net '%s': at most %d queue pairs (%d virtqueues with the "
			      "control queue, of %d a device may have)", text, NET_MAX_PAIRS,
			      2 * NET_MAX_PAIRS + 1, VIRTIO_MAX_QUEUES);
	if (!r)
		r = check_iothreads("--net", text, n->iothread, n->nr_iothreads, false, err);
	if (!r)
		cfg->nr_nets++;
	return r;
}

/* What --vsock is parsed into: the device's configuration, and whether uds= did not fit. */
struct vsock_parse {
	struct vsock_config *v;
	bool too_long;
};

static int set_vsock(void *obj, const char *key, const char *value)
{
	struct vsock_parse *p = obj;
	struct vsock_config *v = p->v;
	char *end;

	if (!strcmp(key, "uds") && strlen(value) > VSOCK_UDS_MAX) {
		p->too_long = true;
	} else if (!strcmp(key, "uds") && *value) {
		strcpy(v->uds_path, value);
	} else if (!strcmp(key, "cid") && value[0] >= '0' && value[0] <= '9') {
		errno = 0;
		unsigned long long cid = strtoull(value, &end, 10);
		if (*end || errno)
			return -EINVAL;
		v->guest_cid = cid;
	} else {
		return -EINVAL;
	}
	return 0;
}

static int parse_vsock(const char *text, struct vm_config *cfg, struct error *err)
{
	char buf[512];
	struct vsock_config *v = &cfg->vsock;

	if (v->enabled)
		return error_set(err, EINVAL, "--vsock: at most one vsock device");
	*v = (struct vsock_config){ 0 };
	struct vsock_parse p = { .v = v };
	int r = parse_kv("--vsock", text, buf, sizeof(buf), set_vsock, &p, err);
	if (!r && p.too_long)
		r = error_set(err, EINVAL, "--vsock: uds= must be at most %zu bytes (a unix socket's "
			      "path, with room for \"_PORT\" for the guest's connections)", VSOCK_UDS_MAX);
	if (!r && !v->uds_path[0])
		r = error_set(err, EINVAL, "--vsock '%s': uds=PATH is required (at most %zu bytes)",
			      text, VSOCK_UDS_MAX);
	if (!r && (v->guest_cid < 3 || v->guest_cid > UINT32_MAX - 1))
		r = error_set(err, EINVAL, "--vsock '%s': cid=N is required, between 3 and %u", text,
			      UINT32_MAX - 1);
	v->enabled = !r;
	return r;
}

static int parse_run(int argc, char **argv, struct vm_config *cfg, enum cli_command *cmd,
		     struct error *err)
{
	int value_index = -1;       /* argv index of the last option's separate value */
	int opt, r = 0;
	const char *vm_option = NULL;   /* one that describes the VM, which the API does instead */

	/* "+": guest arguments only ever follow "--"; nothing is permuted. */
	optind = 0;
	opterr = 0;
	while (!r && (opt = getopt_long(argc, argv, "+:h", run_options, NULL)) != -1) {
		value_index = optarg && optarg == argv[optind - 1] ? optind - 1 : -1;
		switch (opt) {
		case OPT_KERNEL:
			vm_option = argv[optind - 1 - (value_index >= 0)];
			cfg->kernel = optarg;
			break;
		case OPT_INITRD:
			vm_option = argv[optind - 1 - (value_index >= 0)];
			cfg->initrd = optarg;
			break;
		case OPT_CMDLINE:
			vm_option = argv[optind - 1 - (value_index >= 0)];
			cfg->cmdline = optarg;
			break;
		case OPT_CPUS:
			vm_option = argv[optind - 1 - (value_index >= 0)];
			r = parse_cpus(optarg, &cfg->cpus, err);
			break;
		case OPT_MEMORY:
			vm_option = argv[optind - 1 - (value_index >= 0)];
			r = parse_memory(optarg, &cfg->memory, err);
			break;
		case OPT_IRQ:
			if (irq_path_parse(optarg, &cfg->irq))
				r = error_set(err, EINVAL, "--irq '%s': must be irqfd, msi or line", optarg);
			break;
		case OPT_IRQCHIP:
			r = parse_irqchip(optarg, &cfg->irqchip, err);
			break;
		case OPT_TRANSPORT:     /* an API-described VM is on virtio-mmio, as Firecracker's */
			vm_option = argv[optind - 1 - (value_index >= 0)];
			if (!strcmp(optarg, "pci"))
				cfg->transport = VIRTIO_TRANSPORT_PCI;
			else if (!strcmp(optarg, "mmio"))
				cfg->transport = VIRTIO_TRANSPORT_MMIO;
			else
				r = error_set(err, EINVAL, "--transport '%s': must be pci or mmio", optarg);
			break;
		case OPT_STATS:
			cfg->stats = true;
			break;
		case OPT_IRQ_TEST_FDS:
			r = parse_fd_pair(optarg, cfg->irq_test_fds, err);
			break;
		case OPT_DISK:
			vm_option = argv[optind - 1 - (value_index >= 0)];
			r = parse_disk(optarg, cfg, err);
			break;
		case OPT_NET:
			vm_option = argv[optind - 1 - (value_index >= 0)];
			r = parse_net(optarg, cfg, err);
			break;
		case OPT_RNG:
			cfg->rng = true;
			break;
		case OPT_VSOCK:
			vm_option = argv[optind - 1 - (value_index >= 0)];
			r = parse_vsock(optarg, cfg, err);
			break;
		case OPT_DUMP_DTB:
			cfg->dump_dtb = optarg;
			break;
		case OPT_SECCOMP:
			if (sandbox_parse_mode(optarg, &cfg->seccomp))
				r = error_set(err, EINVAL, "--seccomp '%s': must be kill, log or off", optarg);
			break;
		case OPT_API_SOCK:
			cfg->api_sock = optarg;
			break;
		case OPT_ID:
			cfg->api_id = optarg;
			break;
		case OPT_CONFIG_FILE:
			cfg->config_file = optarg;
			break;
		case OPT_NO_API:
			cfg->no_api = true;
			break;
		case 'h':
			*cmd = CLI_HELP;
			return 0;
		case ':':
			r = error_set(err, EINVAL, "option '%s' needs a value", argv[optind - 1]);
			break;
		default:
			r = error_set(err, EINVAL, "unknown option '%s' (see 'ringvm --help')",
				      argv[optind - 1]);
			break;
		}
	}
	if (r)
		return r;
	/* A "--" that was an option's value ("--cmdline --") separates nothing. */
	bool separated = optind > 1 && !strcmp(argv[optind - 1], "--") &&
			 optind - 1 != value_index;
	if (optind < argc && !separated)
		return error_set(err, EINVAL, "unexpected argument '%s' (guest arguments go after '--')",
				 argv[optind]);
	cfg->guest_args = argv + optind;
	cfg->nr_guest_args = argc - optind;
	if (cfg->no_api && (!cfg->config_file || cfg->api_sock))
		return error_set(err, EINVAL, "--no-api needs --config-file and no --api-sock");
	if (cfg->api_sock || cfg->config_file) {
		if (vm_option || cfg->nr_guest_args)
			return error_set(err, EINVAL, "%s: with --api-sock or --config-file the VM is "
					 "described through the API or the file", vm_option ? vm_option
					 : "guest arguments");
		if (cfg->dump_dtb)
			return error_set(err, EINVAL, "--dump-dtb does not go with --api-sock or "
					 "--config-file");
		*cmd = CLI_API;
		return 0;
	}
	if (cfg->api_id)
		return error_set(err, EINVAL, "--id goes with --api-sock or --config-file");
	size_t line = cfg->cmdline ? strlen(cfg->cmdline) : 0;
	for (int i = 0; i < cfg->nr_guest_args; i++)
		line += 1 + strlen(cfg->guest_args[i]);
	if (line > BOOT_CMDLINE_MAX - 1)
		return error_set(err, EINVAL, "the kernel command line would be %zu bytes, "
				 "the limit is %d", line, BOOT_CMDLINE_MAX - 1);
	*cmd = CLI_RUN;
	return 0;
}

int cli_parse(int argc, char **argv, struct vm_config *cfg, enum cli_command *cmd,
	      struct error *err)
{
	*cfg = (struct vm_config){
		.cpus = DEFAULT_CPUS, .memory = DEFAULT_MEMORY,
		.irqchip = IRQCHIP_KERNEL, .irq = IRQ_PATH_IRQFD, .irq_test_fds = { -1, -1 },
		.seccomp = SANDBOX_KILL,
	};

	if (argc < 2)
		return error_set(err, EINVAL, "missing command (see 'ringvm --help')");
	const char *command = argv[1];
	if (!strcmp(command, "--help") || !strcmp(command, "-h") || !strcmp(command, "help")) {
		*cmd = CLI_HELP;
		return 0;
	}
	if (!strcmp(command, "--version") || !strcmp(command, "version")) {
		*cmd = CLI_VERSION;
		return 0;
	}
	/* Firecracker's invocation: options straight after the program's name. */
	if (!strncmp(command, "--", 2)) {
		int r = parse_run(argc, argv, cfg, cmd, err);
		if (!r && *cmd == CLI_RUN)   /* as before: a VM of ringvm's own needs `run` */
			return error_set(err, EINVAL, "unknown command '%s' (see 'ringvm --help')",
					 command);
		return r;
	}
	if (strcmp(command, "run"))
		return error_set(err, EINVAL, "unknown command '%s' (see 'ringvm --help')", command);
	return parse_run(argc - 1, argv + 1, cfg, cmd, err);
}
