// SPDX-License-Identifier: GPL-2.0 OR MIT
/*
 * foliomap: checks the kernel's large-folio mapping accounting against the foliomap
 * model (a Rust library linked into this module).
 *
 * On load it hooks the kernel's rmap, fork, PMD split, migration and write-fault paths
 * (foliomap_hooks.c) and checks every transition against the model; debugfs "stats"
 * counts them and "mismatches" shows every disagreement (foliomap_debugfs.h).
 */
#define pr_fmt(fmt) KBUILD_MODNAME ": " fmt

#include <linux/atomic.h>
#include <linux/debugfs.h>
#include <linux/fs.h>
#include <linux/module.h>
#include <linux/percpu.h>
#include <linux/seq_file.h>
#include <linux/spinlock.h>
#include <linux/string.h>
#include <linux/uaccess.h>
#include <linux/utsname.h>
#include <generated/utsversion.h>

#include "foliomap_shadow.h"
#include "foliomap_trace.h"

/* The kernel configuration this module was built against (one module per kernel). */
#define FOLIOMAP_MODE \
	(IS_ENABLED(CONFIG_NO_PAGE_MAPCOUNT) ? FOLIOMAP_MODE_NOPMC : FOLIOMAP_MODE_PMC)

static const char *const foliomap_stat_names[FOLIOMAP_NR_STATS] = FOLIOMAP_STAT_NAMES;

/*
 * Bumped from probe handlers on every CPU: per-CPU, summed when read. "totals" are the
 * sums since load; "stats" subtract the sums at the last "reset" (the probes' own miss
 * counters cannot be reset either, so the same holds for them).
 */
static DEFINE_PER_CPU(u64 [FOLIOMAP_NR_STATS], foliomap_counts);
static u64 foliomap_base[FOLIOMAP_NR_STATS];
static DEFINE_SPINLOCK(foliomap_base_lock);

bool foliomap_warn_on_mismatch;
module_param_named(warn_on_mismatch, foliomap_warn_on_mismatch, bool, 0600);
MODULE_PARM_DESC(warn_on_mismatch, "WARN (once) when the model disagrees with the kernel");

void foliomap_count(enum foliomap_stat stat)
{
	this_cpu_inc(foliomap_counts[stat]);
	foliomap_scope_count(stat);
}

/* Counter @i since the module was loaded. */
static u64 total_value(int i)
{
	u64 v = i == FOLIOMAP_STAT_MISSED_EVENTS ? foliomap_hooks_missed() : 0;
	int cpu;

	for_each_possible_cpu(cpu)
		v += per_cpu(foliomap_counts, cpu)[i];
	return v;
}

static u64 stat_value(int i)
{
	u64 base;

	spin_lock(&foliomap_base_lock);
	base = foliomap_base[i];
	spin_unlock(&foliomap_base_lock);
	return total_value(i) - base;
}

static int foliomap_totals_show(struct seq_file *m, void *unused)
{
	int i;

	for (i = 0; i < FOLIOMAP_NR_STATS; i++)
		seq_printf(m, "%s %llu\n", foliomap_stat_names[i], total_value(i));
	return 0;
}
DEFINE_SHOW_ATTRIBUTE(foliomap_totals);

static struct dentry *foliomap_debugfs_dir;

static int foliomap_stats_show(struct seq_file *m, void *unused)
{
	int i;

	for (i = 0; i < FOLIOMAP_NR_STATS; i++)
		seq_printf(m, "%s %llu\n", foliomap_stat_names[i], stat_value(i));
	seq_printf(m, FOLIOMAP_STATS_VERSION_KEY " %s\n", fm_version());
	seq_printf(m, FOLIOMAP_STATS_MODE_KEY " %s\n", FOLIOMAP_MODE);
	return 0;
}

static int foliomap_stats_open(struct inode *inode, struct file *file)
{
	return single_open(file, foliomap_stats_show, inode->i_private);
}

/* The only command is "reset" (optionally newline-terminated): zero every counter. */
static ssize_t foliomap_stats_write(struct file *file, const char __user *ubuf,
				    size_t len, loff_t *ppos)
{
	char buf[sizeof(FOLIOMAP_STATS_RESET) + 1];
	int i;

	if (len == 0 || len >= sizeof(buf))
		return -EINVAL;
	if (copy_from_user(buf, ubuf, len))
		return -EFAULT;
	buf[len] = '\0';
	/* sysfs_streq() stops at a NUL: "reset\0junk" is not "reset" */
	if (strlen(buf) != len || !sysfs_streq(buf, FOLIOMAP_STATS_RESET))
		return -EINVAL;

	for (i = 0; i < FOLIOMAP_NR_STATS; i++) {
		u64 v = total_value(i);

		spin_lock(&foliomap_base_lock);
		foliomap_base[i] = v;
		spin_unlock(&foliomap_base_lock);
	}
	return len;
}

static const struct file_operations foliomap_stats_fops = {
	.owner = THIS_MODULE,
	.open = foliomap_stats_open,
	.read = seq_read,
	.llseek = seq_lseek,
	.write = foliomap_stats_write,
	.release = single_release,
};

static int __init foliomap_init(void)
{
	struct dentry *stats;
	int err;

	/*
	 * The module mirrors the accounting of the kernel it was built against (pmc or
	 * nopmc, struct layout): refuse any other build of the same release, whose
	 * vermagic would let it load (e.g. this pmc module on the nopmc kernel).
	 */
	if (strcmp(init_utsname()->version, UTS_VERSION)) {
		pr_err("built for the %s kernel \"%s\", refusing to load on \"%s\": rebuild the module for this kernel\n",
		       FOLIOMAP_MODE, UTS_VERSION, init_utsname()->version);
		return -EINVAL;
	}

	foliomap_debugfs_dir = debugfs_create_dir(FOLIOMAP_DEBUGFS_DIR, NULL);
	if (IS_ERR(foliomap_debugfs_dir))
		return PTR_ERR(foliomap_debugfs_dir);

	/* Root only: the counters will describe other processes' memory. */
	stats = debugfs_create_file(FOLIOMAP_STATS_FILE, 0600, foliomap_debugfs_dir,
				    NULL, &foliomap_stats_fops);
	if (IS_ERR(stats)) {
		debugfs_remove_recursive(foliomap_debugfs_dir);
		return PTR_ERR(stats);
	}
	stats = debugfs_create_file(FOLIOMAP_TOTALS_FILE, 0400, foliomap_debugfs_dir, NULL,
				    &foliomap_totals_fops);
	err = PTR_ERR_OR_ZERO(stats);
	if (!err)
		err = foliomap_report_init(foliomap_debugfs_dir);
	if (!err)
		err = foliomap_scope_init(foliomap_debugfs_dir);
	if (!err)
		err = foliomap_inspect_init(foliomap_debugfs_dir);
	if (!err)
		err = foliomap_trace_init(foliomap_debugfs_dir);
	if (!err)
		err = foliomap_hooks_init(foliomap_debugfs_dir);
	if (err) {
		debugfs_remove_recursive(foliomap_debugfs_dir);
		return err;
	}

	/* A deliberately wrong model (scripts/mutants) says so. */
	if (FOLIOMAP_MUTANT[0])
		pr_warn("MUTANT %s\n", FOLIOMAP_MUTANT);
	pr_info("model %s loaded, mode %s\n", fm_version(), FOLIOMAP_MODE);
	return 0;
}

static void __exit foliomap_exit(void)
{
	/* Probes first: their handlers use the pools and the records. */
	foliomap_hooks_exit();
	debugfs_remove_recursive(foliomap_debugfs_dir);
	foliomap_scope_exit();
	foliomap_trace_exit();
	pr_info("unloaded\n");
}

module_init(foliomap_init);
module_exit(foliomap_exit);

MODULE_DESCRIPTION("Checks large-folio mapping accounting against the foliomap model");
MODULE_LICENSE("Dual MIT/GPL");
