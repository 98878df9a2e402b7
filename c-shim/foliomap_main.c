// SPDX-License-Identifier: GPL-2.0 OR MIT
/*
 * foliomap: checks the kernel's large-folio mapping accounting against the foliomap
 * model (a Rust library linked into this module).
 *
 * This is the skeleton: it links the model, exposes the statistics file described in
 * foliomap_debugfs.h (all counters zero until the hooks land) and unloads cleanly.
 */
#define pr_fmt(fmt) KBUILD_MODNAME ": " fmt

#include <linux/atomic.h>
#include <linux/debugfs.h>
#include <linux/fs.h>
#include <linux/module.h>
#include <linux/seq_file.h>
#include <linux/string.h>
#include <linux/uaccess.h>

#include "foliomap_debugfs.h"
#include "foliomap_rust.h"

/* The kernel configuration this module was built against (one module per kernel). */
#define FOLIOMAP_MODE \
	(IS_ENABLED(CONFIG_NO_PAGE_MAPCOUNT) ? FOLIOMAP_MODE_NOPMC : FOLIOMAP_MODE_PMC)

static const char *const foliomap_stat_names[FOLIOMAP_NR_STATS] = FOLIOMAP_STAT_NAMES;

/* Bumped from probe handlers on any CPU, hence atomic. */
static atomic64_t foliomap_stats[FOLIOMAP_NR_STATS];

static struct dentry *foliomap_debugfs_dir;

static int foliomap_stats_show(struct seq_file *m, void *unused)
{
	int i;

	for (i = 0; i < FOLIOMAP_NR_STATS; i++)
		seq_printf(m, "%s %lld\n", foliomap_stat_names[i],
			   (long long)atomic64_read(&foliomap_stats[i]));
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
	if (!sysfs_streq(buf, FOLIOMAP_STATS_RESET))
		return -EINVAL;

	for (i = 0; i < FOLIOMAP_NR_STATS; i++)
		atomic64_set(&foliomap_stats[i], 0);
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

	pr_info("model %s loaded, mode %s\n", fm_version(), FOLIOMAP_MODE);
	return 0;
}

static void __exit foliomap_exit(void)
{
	debugfs_remove_recursive(foliomap_debugfs_dir);
	pr_info("unloaded\n");
}

module_init(foliomap_init);
module_exit(foliomap_exit);

MODULE_DESCRIPTION("Checks large-folio mapping accounting against the foliomap model");
MODULE_LICENSE("Dual MIT/GPL");
