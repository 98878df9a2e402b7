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

/*
 * The page mapped at addr, with a folio reference, or NULL (nothing present: no table,
 * an empty or non-present entry such as a migration entry, a special PTE). *zero is
 * set for the shared zeropage (returned without a reference). The caller holds
 * mmap_read_lock. A read-only walk, under the PMD or PTE lock as the fault paths take
 * them: unlike GUP (get_user_pages_remote() always adds FOLL_TOUCH), it neither marks
 * the folio accessed nor queues it for activation, which would add a per-CPU batch
 * reference to ref.
 */
static struct page *inspect_lookup(struct mm_struct *mm, unsigned long addr, bool *zero)
{
	struct page *page = NULL;
	pmd_t *pmd, pmdval;
	spinlock_t *ptl;
	pgd_t *pgd;
	p4d_t *p4d;
	pud_t *pud;
	pte_t *pte, pteval;

	*zero = false;
	pgd = pgd_offset(mm, addr);
	if (pgd_none(*pgd) || pgd_bad(*pgd))
		return NULL;
	p4d = p4d_offset(pgd, addr);
	if (p4d_none(*p4d) || p4d_bad(*p4d))
		return NULL;
	pud = pud_offset(p4d, addr);
	if (pud_none(*pud) || !pud_present(*pud) || pud_leaf(*pud) || pud_bad(*pud))
		return NULL;
	pmd = pmd_offset(pud, addr);
again:
	pmdval = pmdp_get_lockless(pmd);
	if (pmd_none(pmdval) || !pmd_present(pmdval))
		return NULL;
	if (pmd_leaf(pmdval)) {
		ptl = pmd_lock(mm, pmd);
		pmdval = *pmd;
		if (!pmd_present(pmdval) || !pmd_leaf(pmdval)) {
			spin_unlock(ptl);
			goto again;
		}
		page = pmd_page(pmdval) + ((addr & ~PMD_MASK) >> PAGE_SHIFT);
		/* mapped, so referenced: the huge zeropage too (it is refcounted) */
		folio_get(page_folio(page));
		spin_unlock(ptl);
		return page;
	}
	if (pmd_bad(pmdval))
		return NULL;
	/* As __pte_offset_map_lock(): the table stays while RCU is held; recheck the PMD. */
	rcu_read_lock();
	pte = pte_offset_kernel(&pmdval, addr);
	ptl = pte_lockptr(mm, &pmdval);
	spin_lock(ptl);
	if (!pmd_same(pmdval, pmdp_get_lockless(pmd))) {
		spin_unlock(ptl);
		rcu_read_unlock();
		goto again;
	}
	pteval = ptep_get(pte);
	if (pte_present(pteval)) {
		if (is_zero_pfn(pte_pfn(pteval))) {
			*zero = true;
			page = pfn_to_page(pte_pfn(pteval));
		} else if (!pte_special(pteval) && pfn_valid(pte_pfn(pteval))) {
			page = pfn_to_page(pte_pfn(pteval));
			folio_get(page_folio(page));
		}
	}
	spin_unlock(ptl);
	rcu_read_unlock();
	return page;
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
	bool zero;
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
	 * Only addresses inside one of the process's VMAs: the walk below must not reach
	 * kernel page tables (the vsyscall page, any kernel address a writer names),
	 * whose PTE tables have no split lock (a NULL one with ALLOC_SPLIT_PTLOCKS).
	 */
	vma = vma_lookup(mm, req->addr);
	page = vma ? inspect_lookup(mm, req->addr, &zero) : NULL;
	if (!page) {
		mmap_read_unlock(mm);
		err = -EFAULT;
		goto out;
	}
	folio = page_folio(page);
	if (zero)
		kind = "zero";
	else if (folio_test_anon(folio))
		kind = "anon";
	else if (folio_order(folio) == HPAGE_PMD_ORDER && vma_is_anonymous(vma))
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
	if (!zero)
		folio_put(folio);
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

/*
 * "PID ADDR": decimal pid, address in hex (0x...) or decimal; a newline may follow.
 * A refused write changes nothing: the file keeps answering its last request.
 */
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
	/* a NUL would hide what follows it from the parser */
	if (memchr(buf, '\0', len))
		return -EINVAL;
	buf[len] = '\0';
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
	/* seq_read() runs inspect_show() under m->lock: it sees a whole request */
	mutex_lock(&m->lock);
	req->pid = pid;
	req->addr = a;
	req->valid = true;
	mutex_unlock(&m->lock);
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
