// SPDX-License-Identifier: GPL-2.0 OR MIT
/*
 * debugfs "inspect": the raw accounting fields of the folio that maps one address of
 * one process, in the model's field names and order (foliomap_debugfs.h describes the
 * format). A page-types for large-folio mapcounts, and the kernel side of the scenario
 * runner (kmod-test/scn_run.c).
 */
#include <linux/debugfs.h>
#include <linux/fs.h>
#include <linux/mm.h>
#include <linux/pid.h>
#include <linux/sched/mm.h>
#include <linux/sched/task.h>
#include <linux/seq_file.h>
#include <linux/slab.h>
#include <linux/string.h>
#include <linux/uaccess.h>

#include "foliomap_shadow.h"

/* One open file: the last request written to it. */
struct inspect_req {
	pid_t pid;
	unsigned long addr;
	bool valid;
};

static struct task_struct *inspect_get_task(pid_t nr)
{
	struct task_struct *task;

	rcu_read_lock();
	task = get_pid_task(find_vpid(nr), PIDTYPE_PID);
	rcu_read_unlock();
	return task;
}

/* {0-15}, {3,7-8}, {}: the pages with PageAnonExclusive. */
static void inspect_pae(struct seq_file *m, const struct fm_snap *s)
{
	unsigned int k, j, n = 1u << s->folio.order;
	bool first = true;

	seq_puts(m, "{");
	for (k = 0; k < n; k = j + 1) {
		j = k;
		if (!(s->pages[k].flags & FM_PAGE_ANON_EXCLUSIVE))
			continue;
		while (j + 1 < n && (s->pages[j + 1].flags & FM_PAGE_ANON_EXCLUSIVE))
			j++;
		seq_printf(m, "%s%u", first ? "" : ",", k);
		if (j > k)
			seq_printf(m, "-%u", j);
		first = false;
	}
	seq_puts(m, "}");
}

/* [1*8,0,-1*7]: runs of the raw per-page _mapcount values. */
static void inspect_pmc(struct seq_file *m, const struct fm_snap *s)
{
	unsigned int k, j, n = 1u << s->folio.order;

	seq_puts(m, "[");
	for (k = 0; k < n; k = j + 1) {
		j = k;
		while (j + 1 < n && s->pages[j + 1].mapcount == s->pages[k].mapcount)
			j++;
		seq_printf(m, "%s%d", k ? "," : "", s->pages[k].mapcount);
		if (j > k)
			seq_printf(m, "*%u", j - k + 1);
	}
	seq_puts(m, "]");
}

static void inspect_fields(struct seq_file *m, const struct fm_snap *s)
{
	const fm_folio *f = &s->folio;
	/* the reference taken by this lookup is not the folio's */
	int ref = f->refcount - 1;

	if (f->order == 0) {
		seq_printf(m, "order=0 ref=%d mapcount=%d pae=", ref, s->pages[0].mapcount);
		inspect_pae(m, s);
		seq_puts(m, "\n");
		return;
	}
	seq_printf(m, "order=%u ref=%d lmc=%d emc=%d", f->order, ref, f->large_mapcount,
		   f->entire_mapcount);
	if (IS_ENABLED(CONFIG_PAGE_MAPCOUNT))
		seq_printf(m, f->nr_pages_mapped >= FM_ENTIRELY_MAPPED ? " nrpm=%#x" : " nrpm=%d",
			   f->nr_pages_mapped);
	seq_printf(m, " ids=[%llu,%llu] mmc=[%d,%d] S=%d pincount=%d pmap=%d dq=%d pae=",
		   f->mm_ids & FM_MM_ID_MASK, (f->mm_ids >> 32) & FM_MM_ID_MASK,
		   f->mm_id_mapcount[0], f->mm_id_mapcount[1],
		   !!(f->mm_ids & FM_MM_IDS_SHARED_BIT), f->pincount,
		   !!(f->flags & FM_FOLIO_PARTIALLY_MAPPED), !!(f->flags & FM_FOLIO_DEFERRED_LIST));
	inspect_pae(m, s);
	if (IS_ENABLED(CONFIG_PAGE_MAPCOUNT)) {
		seq_puts(m, " pmc=");
		inspect_pmc(m, s);
	}
	seq_puts(m, "\n");
}

static int inspect_show(struct seq_file *m, void *unused)
{
	struct inspect_req *req = m->private;
	struct task_struct *task;
	struct vm_area_struct *vma;
	struct mm_struct *mm;
	struct fm_snap *snap;
	struct folio *folio;
	struct page *page;
	const char *kind;
	long got;
	int err;

	if (!req->valid)
		return -EINVAL;
	task = inspect_get_task(req->pid);
	if (!task)
		return -ESRCH;
	mm = get_task_mm(task);
	put_task_struct(task);
	if (!mm)
		return -ESRCH;	/* a kernel thread, or exiting */

	snap = kmalloc_obj(*snap, GFP_KERNEL);
	if (!snap) {
		mmput(mm);
		return -ENOMEM;
	}
	if (mmap_read_lock_killable(mm)) {
		err = -EINTR;
		goto out;
	}
	/*
	 * A GUP lookup that takes a reference, never faults (FOLL_NOFAULT: nothing mapped
	 * means -EFAULT), neither pins nor touches (no FOLL_PIN, FOLL_TOUCH, FOLL_WRITE),
	 * so it changes no accounting field but the refcount, which is corrected below.
	 */
	got = get_user_pages_remote(mm, req->addr, 1, FOLL_NOFAULT, &page, NULL);
	if (got != 1) {
		mmap_read_unlock(mm);
		err = got < 0 && got != -EFAULT && got != -ENOMEM ? (int)got : -EFAULT;
		goto out;
	}
	folio = page_folio(page);
	vma = vma_lookup(mm, req->addr);
	if (folio_test_anon(folio))
		kind = "anon";
	else if (is_zero_pfn(page_to_pfn(page)))
		kind = "zero";
	else if (folio_order(folio) == HPAGE_PMD_ORDER && vma && vma_is_anonymous(vma))
		kind = "hugezero";	/* a non-anon PMD folio in an anonymous VMA */
	else
		kind = "file";
	seq_printf(m, "pid=%d mm_id=%u addr=%#lx pfn=%#lx node=%d page=%lu folio=%s\n",
		   req->pid, mm->mm_id, req->addr, page_to_pfn(page), folio_nid(folio),
		   folio_page_idx(folio, page), kind);
	err = 0;
	if (!strcmp(kind, "anon") || !strcmp(kind, "file")) {
		err = foliomap_snapshot(folio, snap);
		if (!err)
			inspect_fields(m, snap);
	}
	put_page(page);
	mmap_read_unlock(mm);
out:
	kfree(snap);
	mmput(mm);
	return err;
}

static int inspect_open(struct inode *inode, struct file *file)
{
	struct inspect_req *req = kzalloc_obj(*req, GFP_KERNEL);
	int err;

	if (!req)
		return -ENOMEM;
	err = single_open(file, inspect_show, req);
	if (err)
		kfree(req);
	return err;
}

static int inspect_release(struct inode *inode, struct file *file)
{
	struct seq_file *m = file->private_data;

	kfree(m->private);
	return single_release(inode, file);
}

/* "PID ADDR": decimal pid, address in hex (0x...) or decimal; a newline may follow. */
static ssize_t inspect_write(struct file *file, const char __user *ubuf, size_t len,
			     loff_t *ppos)
{
	struct seq_file *m = file->private_data;
	struct inspect_req *req = m->private;
	struct task_struct *task;
	char buf[64], *sp, *addr;
	unsigned long a;
	int pid;

	if (len == 0 || len >= sizeof(buf))
		return -EINVAL;
	if (copy_from_user(buf, ubuf, len))
		return -EFAULT;
	buf[len] = '\0';
	req->valid = false;
	sp = strim(buf);
	addr = strchr(sp, ' ');
	if (!addr)
		return -EINVAL;
	*addr++ = '\0';
	addr = skip_spaces(addr);
	if (kstrtoint(sp, 10, &pid) || pid <= 0 || kstrtoul(addr, 0, &a))
		return -EINVAL;
	task = inspect_get_task(pid);
	if (!task)
		return -ESRCH;
	put_task_struct(task);
	req->pid = pid;
	req->addr = a;
	req->valid = true;
	return len;
}

static const struct file_operations foliomap_inspect_fops = {
	.owner = THIS_MODULE,
	.open = inspect_open,
	.read = seq_read,
	.llseek = seq_lseek,
	.write = inspect_write,
	.release = inspect_release,
};

int foliomap_inspect_init(struct dentry *dir)
{
	struct dentry *d;

	/* Root only: it shows other processes' memory. */
	d = debugfs_create_file(FOLIOMAP_INSPECT_FILE, 0600, dir, NULL, &foliomap_inspect_fops);
	return PTR_ERR_OR_ZERO(d);
}
