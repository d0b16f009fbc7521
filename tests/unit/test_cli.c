#include <criterion/criterion.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "machine/cli.h"

struct parsed {
	int r;
	struct vm_config cfg;
	enum cli_command cmd;
	struct error err;
};

/* argv as getopt wants it: writable, NULL-terminated. */
static struct parsed parse(int argc, const char **args)
{
	static char *argv[32];
	struct parsed p = { 0 };

	for (int i = 0; i < argc; i++)
		argv[i] = (char *)args[i];
	argv[argc] = NULL;
	p.r = cli_parse(argc, argv, &p.cfg, &p.cmd, &p.err);
	return p;
}

#define PARSE(...) ({ const char *a_[] = { "ringvm", __VA_ARGS__ }; \
		      parse((int)(sizeof(a_) / sizeof(a_[0])), a_); })

Test(cli, defaults)
{
	struct parsed p = PARSE("run");
	cr_assert_eq(p.r, 0);
	cr_assert_eq(p.cmd, CLI_RUN);
	cr_assert_null(p.cfg.kernel);
	cr_assert_eq(p.cfg.cpus, 1);
	cr_assert_eq(p.cfg.memory, 512ULL << 20);
	cr_assert_eq(p.cfg.nr_guest_args, 0);
}

Test(cli, all_options)
{
	struct parsed p = PARSE("run", "--kernel", "vmlinux", "--cmdline", "console=ttyS0",
				"--cpus", "4", "--memory=2G", "--", "test=serial,smp", "exit=3");
	cr_assert_eq(p.r, 0, "%s", p.err.msg);
	cr_assert_str_eq(p.cfg.kernel, "vmlinux");
	cr_assert_str_eq(p.cfg.cmdline, "console=ttyS0");
	cr_assert_eq(p.cfg.cpus, 4);
	cr_assert_eq(p.cfg.memory, 2ULL << 30);
	cr_assert_eq(p.cfg.nr_guest_args, 2);
	cr_assert_str_eq(p.cfg.guest_args[0], "test=serial,smp");
	cr_assert_str_eq(p.cfg.guest_args[1], "exit=3");
}

Test(cli, help_and_version)
{
	cr_assert_eq(PARSE("--help").cmd, CLI_HELP);
	cr_assert_eq(PARSE("-h").cmd, CLI_HELP);
	cr_assert_eq(PARSE("run", "--help").cmd, CLI_HELP);
	cr_assert_eq(PARSE("--version").cmd, CLI_VERSION);
}

/* What a user reads: the user's options, not the benchmark's --irq-test-fds. */
Test(cli, help_lists_user_options_only)
{
	char *text = NULL;
	size_t len = 0;
	FILE *out = open_memstream(&text, &len);

	cr_assert_not_null(out);
	cli_usage(out);
	fclose(out);
	cr_assert(strstr(text, "--irq PATH"), "%s", text);
	cr_assert(strstr(text, "--disk path="), "%s", text);
	cr_assert_null(strstr(text, "irq-test"), "a benchmark's option in --help:\n%s", text);
	free(text);
	cr_assert_eq(PARSE("run", "--irq-test-fds", "5,6").r, 0, "hidden, still accepted");
}

static void expect_usage_error(struct parsed p, const char *needle)
{
	cr_assert_eq(p.r, -EINVAL);
	cr_assert(strstr(p.err.msg, needle), "message '%s' should mention '%s'", p.err.msg, needle);
	cr_assert_null(strchr(p.err.msg, '\n'), "one line only");
}

Test(cli, bad_input_is_named)
{
	expect_usage_error(PARSE("run", "--bogus"), "--bogus");
	expect_usage_error(PARSE("run", "--cpus", "0"), "--cpus");
	expect_usage_error(PARSE("run", "--cpus", "255"), "between 1 and 254");
	expect_usage_error(PARSE("run", "--cpus", "two"), "not a number");
	expect_usage_error(PARSE("run", "--cpus", "-1"), "not a number");
	expect_usage_error(PARSE("run", "--cpus", "4x"), "not a number");
	expect_usage_error(PARSE("run", "--memory", "5X"), "not a size");
	expect_usage_error(PARSE("run", "--memory", "1M"), "must be between");
	expect_usage_error(PARSE("run", "--memory", "2T"), "must be between");
	expect_usage_error(PARSE("run", "--memory", "4097K"), "multiple of 4 KiB");
	expect_usage_error(PARSE("run", "--kernel"), "needs a value");
	expect_usage_error(PARSE("run", "stray"), "unexpected argument 'stray'");
	expect_usage_error(PARSE("fly"), "unknown command 'fly'");
	expect_usage_error(PARSE(), "missing command");
}

Test(cli, dashdash_as_a_value_separates_nothing)
{
	expect_usage_error(PARSE("run", "--cmdline", "--", "stray"), "unexpected argument");
	struct parsed p = PARSE("run", "--cmdline", "--", "--", "a");
	cr_assert_eq(p.r, 0, "%s", p.err.msg);
	cr_assert_str_eq(p.cfg.cmdline, "--");
	cr_assert_eq(p.cfg.nr_guest_args, 1);
}

Test(cli, options_after_guest_args_are_guest_args)
{
	struct parsed p = PARSE("run", "--", "--cpus", "9");
	cr_assert_eq(p.r, 0);
	cr_assert_eq(p.cfg.cpus, 1);
	cr_assert_eq(p.cfg.nr_guest_args, 2);
}

Test(cli, parses_twice_in_one_process)
{
	cr_assert_eq(PARSE("run", "--cpus", "3").cfg.cpus, 3);
	cr_assert_eq(PARSE("run", "--cpus", "5").cfg.cpus, 5);
}

Test(cli, overlong_command_line_is_refused)
{
	static char big[3000];
	memset(big, 'a', sizeof(big) - 1);
	expect_usage_error(PARSE("run", "--cmdline", big), "limit is 2047");
	big[2048] = '\0';
	expect_usage_error(PARSE("run", "--cmdline", big), "limit is 2047");
	big[2047] = '\0';
	cr_assert_eq(PARSE("run", "--cmdline", big).r, 0);
	big[2045] = '\0';   /* 2045 + " x" = 2047 bytes: just fits */
	cr_assert_eq(PARSE("run", "--cmdline", big, "--", "x").r, 0);
	expect_usage_error(PARSE("run", "--cmdline", big, "--", "xy"), "would be 2048 bytes");
}

Test(cli, interrupt_options)
{
	struct parsed p = PARSE("run");
	cr_assert_eq(p.cfg.irq, IRQ_PATH_IRQFD, "irqfd by default");
	cr_assert_eq(p.cfg.irqchip, IRQCHIP_KERNEL, "in-kernel irqchip by default");
	cr_assert_not(p.cfg.stats);
	cr_assert_eq(p.cfg.irq_test_fds[0], -1);
	p = PARSE("run", "--irq=msi", "--irqchip", "split", "--stats", "--irq-test-fds", "5,6");
	cr_assert_eq(p.r, 0, "%s", p.err.msg);
	cr_assert_eq(p.cfg.irq, IRQ_PATH_MSI);
	cr_assert_eq(p.cfg.irqchip, IRQCHIP_SPLIT);
	cr_assert(p.cfg.stats);
	cr_assert_eq(p.cfg.irq_test_fds[0], 5);
	cr_assert_eq(p.cfg.irq_test_fds[1], 6);
	cr_assert_eq(PARSE("run", "--irq", "line").cfg.irq, IRQ_PATH_LINE);
	expect_usage_error(PARSE("run", "--irq", "posted"), "--irq 'posted': must be irqfd, msi or line");
	expect_usage_error(PARSE("run", "--irqchip", "user"), "must be kernel or split");
	expect_usage_error(PARSE("run", "--irq-test-fds", "5"), "expected two fd numbers");
	expect_usage_error(PARSE("run", "--irq-test-fds", "5,x"), "expected two fd numbers");
	expect_usage_error(PARSE("run", "--irq-test-fds", "-1,2"), "expected two fd numbers");
	expect_usage_error(PARSE("run", "--irq-test-fds", "1,99999999999"), "expected two fd numbers");
}

Test(cli, device_options)
{
	struct parsed p = PARSE("run", "--disk", "path=/tmp/a.img,readonly=on,queues=4,serial=abc",
				"--disk=path=/tmp/b.img,direct=on", "--net", "tap=tap0,mac=02:11:22:33:44:55",
				"--net", "tap=tap1,queues=2", "--rng");
	cr_assert_eq(p.r, 0, "%s", p.err.msg);
	cr_assert_eq(p.cfg.nr_disks, 2);
	cr_assert_str_eq(p.cfg.disks[0].path, "/tmp/a.img");
	cr_assert(p.cfg.disks[0].readonly);
	cr_assert_eq(p.cfg.disks[0].queues, 4);
	cr_assert_str_eq(p.cfg.disks[0].serial, "abc");
	cr_assert(p.cfg.disks[1].direct);
	cr_assert_not(p.cfg.disks[1].readonly);
	cr_assert_eq(p.cfg.nr_nets, 2);
	cr_assert_str_eq(p.cfg.nets[0].tap, "tap0");
	cr_assert(p.cfg.nets[0].has_mac);
	cr_assert_eq(p.cfg.nets[0].mac[5], 0x55);
	cr_assert_eq(p.cfg.nets[1].queue_pairs, 2);
	cr_assert(p.cfg.rng);
}

Test(cli, bad_device_options)
{
	expect_usage_error(PARSE("run", "--disk", "readonly=on"), "path=FILE is required");
	expect_usage_error(PARSE("run", "--disk", "path=/x,readonly=maybe"), "bad or unknown 'readonly=maybe'");
	expect_usage_error(PARSE("run", "--disk", "path=/x,queues=0"), "queues=0");
	expect_usage_error(PARSE("run", "--disk", "path=/x,queues=17"), "queues=17");
	expect_usage_error(PARSE("run", "--disk", "path=/x,serial=123456789012345678901"), "serial=");
	expect_usage_error(PARSE("run", "--disk", "path=/x,cache=none"), "bad or unknown 'cache=none'");
	expect_usage_error(PARSE("run", "--disk", "path"), "'path' is not key=value");
	expect_usage_error(PARSE("run", "--net", "mac=02:00:00:00:00:01"), "tap=NAME is required");
	expect_usage_error(PARSE("run", "--net", "tap=t0,mac=01:00:00:00:00:01"), "mac=01:00:00:00:00:01");
	expect_usage_error(PARSE("run", "--net", "tap=t0,mac=02:00:00:00:00"), "mac=");
	expect_usage_error(PARSE("run", "--net", "tap=averyveryverylongtapname"), "tap=");
	struct parsed p = PARSE("run", "--disk", "path=a", "--disk", "path=b", "--disk", "path=c",
				"--disk", "path=d", "--disk", "path=e", "--disk", "path=f", "--disk",
				"path=g", "--disk", "path=h", "--disk", "path=i");
	expect_usage_error(p, "at most 8 disks");
}

/* Each pair is two virtqueues and several pairs add a control queue: 7 pairs fill 15 of 16. */
Test(cli, net_queue_pairs_fit_the_device)
{
	struct parsed p = PARSE("run", "--net", "tap=t0,queues=7");
	cr_assert_eq(p.r, 0, "%s", p.err.msg);
	cr_assert_eq(p.cfg.nets[0].queue_pairs, 7);
	expect_usage_error(PARSE("run", "--net", "tap=t0,queues=8"), "at most 7 queue pairs");
	expect_usage_error(PARSE("run", "--net", "tap=t0,queues=16"), "at most 7 queue pairs");
}

/* iothread=: one thread, a range for a disk's queues, 0 the main loop; one line when wrong. */
Test(cli, iothreads)
{
	struct parsed p = PARSE("run", "--disk", "path=/a,iothread=1", "--disk", "path=/b,queues=4,iothread=2-3",
				"--disk", "path=/c", "--disk", "path=/d,iothread=0", "--disk", "path=/e,iothread=8",
				"--net", "tap=t0,iothread=4");
	cr_assert_eq(p.r, 0, "%s", p.err.msg);
	cr_assert_eq(p.cfg.disks[0].iothread, 1);
	cr_assert_eq(p.cfg.disks[0].nr_iothreads, 1);
	cr_assert_eq(p.cfg.disks[1].iothread, 2);
	cr_assert_eq(p.cfg.disks[1].nr_iothreads, 2);
	cr_assert_eq(p.cfg.disks[2].iothread, 0, "absent: the main loop");
	cr_assert_eq(p.cfg.disks[2].nr_iothreads, 1);
	cr_assert_eq(p.cfg.disks[3].iothread, 0);
	cr_assert_eq(p.cfg.disks[4].iothread, 8);
	cr_assert_eq(p.cfg.nets[0].iothread, 4);
	p = PARSE("run", "--disk", "path=/a,iothread=1-8");
	cr_assert_eq(p.r, 0, "%s", p.err.msg);
	cr_assert_eq(p.cfg.disks[0].nr_iothreads, 8);
	p = PARSE("run", "--disk", "path=/a,iothread=3-3");
	cr_assert_eq(p.r, 0, "%s", p.err.msg);
	cr_assert_eq(p.cfg.disks[0].iothread, 3);
	cr_assert_eq(p.cfg.disks[0].nr_iothreads, 1);

	expect_usage_error(PARSE("run", "--disk", "path=/a,iothread=9"), "between 0 (the main loop) and 8");
	expect_usage_error(PARSE("run", "--disk", "path=/a,iothread=99999999999999999999"),
			   "bad or unknown 'iothread=99999999999999999999'");
	expect_usage_error(PARSE("run", "--disk", "path=/a,iothread=4294967297"), "between 0 (the main loop) and 8");
	expect_usage_error(PARSE("run", "--disk", "path=/a,iothread=7-9"), "between 0 (the main loop) and 8");
	expect_usage_error(PARSE("run", "--disk", "path=/a,iothread=0-2"), "range names I/O threads, 1 to 8");
	expect_usage_error(PARSE("run", "--disk", "path=/a,iothread=2-1"), "bad or unknown 'iothread=2-1'");
	expect_usage_error(PARSE("run", "--disk", "path=/a,iothread=x"), "bad or unknown 'iothread=x'");
	expect_usage_error(PARSE("run", "--disk", "path=/a,iothread=-1"), "bad or unknown 'iothread=-1'");
	expect_usage_error(PARSE("run", "--disk", "path=/a,iothread=1-"), "bad or unknown 'iothread=1-'");
	expect_usage_error(PARSE("run", "--disk", "path=/a,iothread="), "bad or unknown 'iothread='");
	expect_usage_error(PARSE("run", "--disk", "path=/a,iothread=1x"), "bad or unknown 'iothread=1x'");
	expect_usage_error(PARSE("run", "--net", "tap=t0,iothread=9"), "between 0 (the main loop) and 8");
	expect_usage_error(PARSE("run", "--net", "tap=t0,queues=2,iothread=1-2"), "takes one thread here");
	expect_usage_error(PARSE("run", "--net", "tap=t0,iothread=+1"), "bad or unknown 'iothread=+1'");
}

Test(cli, vsock)
{
	struct parsed p = PARSE("run", "--vsock", "cid=3,uds=/tmp/v.sock");
	cr_assert_eq(p.r, 0, "%s", p.err.msg);
	cr_assert(p.cfg.vsock.enabled);
	cr_assert_eq(p.cfg.vsock.guest_cid, 3);
	cr_assert_str_eq(p.cfg.vsock.uds_path, "/tmp/v.sock");
	cr_assert_not(PARSE("run").cfg.vsock.enabled);
	expect_usage_error(PARSE("run", "--vsock", "cid=2,uds=/tmp/v"), "between 3 and 4294967294");
	expect_usage_error(PARSE("run", "--vsock", "cid=4294967295,uds=/tmp/v"), "between 3 and");
	expect_usage_error(PARSE("run", "--vsock", "uds=/tmp/v"), "cid=N is required");
	expect_usage_error(PARSE("run", "--vsock", "cid=3"), "uds=PATH is required");
	expect_usage_error(PARSE("run", "--vsock", "cid=x3,uds=/tmp/v"), "bad or unknown 'cid=x3'");
	char path[200] = "uds=/tmp/";
	memset(path + 9, 'p', 120);
	expect_usage_error(PARSE("run", "--vsock", path), "uds= must be at most 96 bytes");
	expect_usage_error(PARSE("run", "--vsock", "cid=3,uds=/a", "--vsock", "cid=4,uds=/b"),
			   "at most one vsock device");
}

Test(cli, transport_pci_by_default_or_as_named)
{
	cr_assert_eq(PARSE("run").cfg.transport, VIRTIO_TRANSPORT_PCI);
	cr_assert_eq(PARSE("run", "--transport", "mmio").cfg.transport, VIRTIO_TRANSPORT_MMIO);
	cr_assert_eq(PARSE("run", "--transport=pci").cfg.transport, VIRTIO_TRANSPORT_PCI);
	expect_usage_error(PARSE("run", "--transport", "isa"), "--transport 'isa': must be pci or mmio");
	expect_usage_error(PARSE("run", "--transport"), "needs a value");
}

/* Firecracker's invocation: options straight after the program, or after `run`. */
Test(cli, firecracker_front_end)
{
	struct parsed p = PARSE("--api-sock", "/run/fc.sock", "--id", "sandbox-1");
	cr_assert_eq(p.r, 0, "%s", p.err.msg);
	cr_assert_eq(p.cmd, CLI_API);
	cr_assert_str_eq(p.cfg.api_sock, "/run/fc.sock");
	cr_assert_str_eq(p.cfg.api_id, "sandbox-1");

	p = PARSE("run", "--config-file=vm.json", "--no-api", "--irq", "msi", "--seccomp", "log");
	cr_assert_eq(p.r, 0, "%s", p.err.msg);
	cr_assert_eq(p.cmd, CLI_API);
	cr_assert_str_eq(p.cfg.config_file, "vm.json");
	cr_assert(p.cfg.no_api);
	cr_assert_eq(p.cfg.irq, IRQ_PATH_MSI);

	p = PARSE("--config-file", "vm.json", "--api-sock", "/s");
	cr_assert_eq(p.r, 0, "%s", p.err.msg);
	cr_assert_eq(p.cmd, CLI_API);
}

Test(cli, firecracker_front_end_mistakes)
{
	struct parsed p = PARSE("--no-api");
	cr_assert_eq(p.r, -EINVAL);
	cr_assert(strstr(p.err.msg, "--no-api needs --config-file"), "%s", p.err.msg);
	p = PARSE("--no-api", "--config-file", "f", "--api-sock", "/s");
	cr_assert_eq(p.r, -EINVAL);
	p = PARSE("--api-sock", "/s", "--cpus", "2");
	cr_assert_eq(p.r, -EINVAL);
	cr_assert(strstr(p.err.msg, "--cpus"), "%s", p.err.msg);
	p = PARSE("run", "--api-sock", "/s", "--disk=path=x");
	cr_assert_eq(p.r, -EINVAL);
	cr_assert(strstr(p.err.msg, "--disk=path=x"), "%s", p.err.msg);
	p = PARSE("run", "--api-sock", "/s", "--", "test=serial");
	cr_assert_eq(p.r, -EINVAL);
	cr_assert(strstr(p.err.msg, "guest arguments"), "%s", p.err.msg);
	p = PARSE("run", "--id", "x");
	cr_assert_eq(p.r, -EINVAL);
	/* ringvm's own VM still needs `run`, as before. */
	p = PARSE("--cpus", "2");
	cr_assert_eq(p.r, -EINVAL);
	cr_assert(strstr(p.err.msg, "unknown command '--cpus'"), "%s", p.err.msg);
}
