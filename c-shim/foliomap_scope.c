// SPDX-License-Identifier: GPL-2.0 OR MIT
/*
 * The scope: a small set of processes (their mms) whose checks are also counted apart,
 * in debugfs "scope" (foliomap_debugfs.h). A test (kmod-test/scn_run) clears it, adds
 * its own processes by pid, and reads what the checker checked for them alone; a fork
 * of a scoped mm puts the child's mm in the scope (the fork probe, copy_page_range).
 *
 * A check is in the scope when the task it runs for (every check runs in the context of
 * the task that performs the operation) has a scoped mm: current->mm, or while the task
 * exits (exit_mmap runs after exit_mm() cleared current->mm) the mm it still uses,
 * current->active_mm. Kernel threads count only under kthread_use_mm().
 *
 * Readers (probe handlers) take no lock: they compare current's mm with the
 * FOLIOMAP_SCOPE_MMS pointers published so far, never dereference them. The scope
 * holds a reference on each mm (mmgrab), so a scoped mm's memory cannot become another
 * mm's while it is in the scope; "clear" drops them.
 */
#define pr_fmt(fmt) KBUILD_MODNAME ": " fmt

#include <linux/debugfs.h>
#include <linux/fs.h>
#include <linux/kernel.h>
#include <linux/percpu.h>
#include <linux/pid.h>
#include <linux/rcupdate.h>
#include <linux/sched.h>
#include <linux/sched/mm.h>
#include <linux/sched/task.h>
#include <linux/seq_file.h>
#include <linux/spinlock.h>
#include <linux/string.h>
#include <linux/uaccess.h>

#include "foliomap_shadow.h"

static struct mm_struct *scope_mms[FOLIOMAP_SCOPE_MMS];
static unsigned int scope_nr;		/* entries published (smp_store_release) */
static u64 scope_overflows;		/* adds refused: the set was full */
static DEFINE_RAW_SPINLOCK(scope_lock);	/* writers: add, fork, clear */

static DEFINE_PER_CPU(u64 [FOLIOMAP_NR_STATS], scope_counts);
static u64 scope_base[FOLIOMAP_NR_STATS];	/* the sums at the last clear */

static const char *const scope_stat_names[FOLIOMAP_NR_STATS] = FOLIOMAP_STAT_NAMES;

static bool scope_has(const struct mm_struct *mm)
{
	/* Pairs with scope_add()'s release: entries below nr are published. */
	unsigned int i, nr = smp_load_acquire(&scope_nr);

	for (i = 0; i < nr; i++)
		if (READ_ONCE(scope_mms[i]) == mm)
			return true;
	return false;
}

/* The mm of the operation the current task performs (see the top of the file). */
static struct mm_struct *op_mm(void)
{
	struct task_struct *t = current;

	if (!in_task())
		return NULL;
	if (t->mm)
		return t->mm;
	if ((t->flags & (PF_EXITING | PF_KTHREAD)) == PF_EXITING)
		return t->active_mm;
	return NULL;
}

/* foliomap_count() of @stat: the scope's counter too, when the operation is in it. */
void foliomap_scope_count(enum foliomap_stat stat)
{
	struct mm_struct *mm;

	if (likely(!READ_ONCE(scope_nr)))
		return;
	mm = op_mm();
	if (mm && scope_has(mm))
		this_cpu_inc(scope_counts[stat]);
}

/* Adds @mm (the caller keeps it alive); 0, or -ENOSPC when the set is full. */
static int scope_add(struct mm_struct *mm)
{
	unsigned long flags;
	unsigned int nr;
	int err = 0;

	raw_spin_lock_irqsave(&scope_lock, flags);
	nr = scope_nr;
	if (scope_has(mm)) {
		/* already in */
	} else if (nr == FOLIOMAP_SCOPE_MMS) {
		scope_overflows++;
		err = -ENOSPC;
	} else {
		mmgrab(mm);
		WRITE_ONCE(scope_mms[nr], mm);
		/* The entry before the count that covers it (scope_has()). */
		smp_store_release(&scope_nr, nr + 1);
	}
	raw_spin_unlock_irqrestore(&scope_lock, flags);
	return err;
}

/*
 * A fork of @parent into @child (copy_page_range's entry, for every VMA of the fork;
 * the parent holds its mmap_lock): a scoped parent's child joins the scope.
 */
void foliomap_scope_fork(struct mm_struct *parent, struct mm_struct *child)
{
	if (likely(!READ_ONCE(scope_nr)) || !scope_has(parent) || scope_has(child))
		return;
	scope_add(child);
}

static u64 scope_sum(int i)
{
	u64 v = 0;
	int cpu;

	for_each_possible_cpu(cpu)
		v += per_cpu(scope_counts, cpu)[i];
	return v;
}

static void scope_clear(void)
{
	struct mm_struct *drop[FOLIOMAP_SCOPE_MMS];
	unsigned long flags;
	unsigned int i, nr;
	u64 sums[FOLIOMAP_NR_STATS];

	raw_spin_lock_irqsave(&scope_lock, flags);
	nr = scope_nr;
	/* Readers stop looking before the entries go (they compare, never dereference). */
	smp_store_release(&scope_nr, 0);
	for (i = 0; i < nr; i++) {
		drop[i] = scope_mms[i];
		WRITE_ONCE(scope_mms[i], NULL);
	}
	scope_overflows = 0;
	raw_spin_unlock_irqrestore(&scope_lock, flags);
	/* Nothing counts in the scope now: its counters start from here. */
	for (i = 0; i < FOLIOMAP_NR_STATS; i++)
		sums[i] = scope_sum(i);
	raw_spin_lock_irqsave(&scope_lock, flags);
	memcpy(scope_base, sums, sizeof(sums));
	raw_spin_unlock_irqrestore(&scope_lock, flags);
	for (i = 0; i < nr; i++)
		mmdrop(drop[i]);
}

static int scope_show(struct seq_file *m, void *unused)
{
	u64 base[FOLIOMAP_NR_STATS], overflows;
	unsigned long flags;
	unsigned int nr;
	int i;

	raw_spin_lock_irqsave(&scope_lock, flags);
	memcpy(base, scope_base, sizeof(base));
	nr = scope_nr;
	overflows = scope_overflows;
	raw_spin_unlock_irqrestore(&scope_lock, flags);
	for (i = 0; i < FOLIOMAP_NR_STATS; i++)
		seq_printf(m, "%s %llu\n", scope_stat_names[i], scope_sum(i) - base[i]);
	seq_printf(m, FOLIOMAP_SCOPE_MMS_KEY " %u\n", nr);
	seq_printf(m, FOLIOMAP_SCOPE_OVERFLOWS_KEY " %llu\n", overflows);
	return 0;
}

static int scope_open(struct inode *inode, struct file *file)
{
	return single_open(file, scope_show, inode->i_private);
}

static int scope_add_pid(pid_t nr)
{
	struct task_struct *task;
	struct mm_struct *mm;
	int err;

	rcu_read_lock();
	task = get_pid_task(find_vpid(nr), PIDTYPE_PID);
	rcu_read_unlock();
	if (!task)
		return -ESRCH;
	mm = get_task_mm(task);
	put_task_struct(task);
	if (!mm)
		return -ESRCH;
	err = scope_add(mm);
	mmput(mm);
	return err;
}

/* "clear", or a decimal pid (a trailing newline allowed). */
static ssize_t scope_write(struct file *file, const char __user *ubuf, size_t len,
			   loff_t *ppos)
{
	char buf[24];
	int pid, err;

	if (len == 0 || len >= sizeof(buf))
		return -EINVAL;
	if (copy_from_user(buf, ubuf, len))
		return -EFAULT;
	buf[len] = '\0';
	if (strlen(buf) != len)
		return -EINVAL;
	if (sysfs_streq(buf, FOLIOMAP_SCOPE_CLEAR)) {
		scope_clear();
		return len;
	}
	if (kstrtoint(buf, 10, &pid) || pid <= 0)
		return -EINVAL;
	err = scope_add_pid(pid);
	return err ? err : len;
}

static const struct file_operations scope_fops = {
	.owner = THIS_MODULE,
	.open = scope_open,
	.read = seq_read,
	.llseek = seq_lseek,
	.write = scope_write,
	.release = single_release,
};

int foliomap_scope_init(struct dentry *dir)
{
	return PTR_ERR_OR_ZERO(debugfs_create_file(FOLIOMAP_SCOPE_FILE, 0600, dir, NULL,
						   &scope_fops));
}

/* After the probes are gone: drops the scope's references. */
void foliomap_scope_exit(void)
{
	scope_clear();
}
