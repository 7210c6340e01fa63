// SPDX-License-Identifier: GPL-2.0-only
/*
 * saker's kernel module: the raw_syscalls sys_enter/sys_exit and
 * sched_process_exit tracepoints, the fillers of kernel/fillers/ (the same
 * events, byte for byte, as the modern eBPF probe), per-CPU rings in
 * vmalloc'd memory mmapped by up to SAKER_MAX_CONSUMERS consumers through
 * /dev/saker. The interface is kernel/include/saker_kmod.h.
 *
 * Concurrency:
 * - The probes run with preemption disabled (they disable it themselves),
 *   so the per-CPU scratch and the per-CPU ring of a consumer have one
 *   writer at a time; none of the tracepoints fires in interrupt context.
 * - Consumers are published in an RCU-protected array; a closing consumer
 *   is unpublished, then synchronize_rcu() waits for every probe that may
 *   still write into its rings before they are freed.
 * - The tracepoints are registered while at least one consumer is open
 *   (under saker_lock, a mutex taken in process context only).
 * - CPU hotplug: rings exist for every possible CPU from the start and
 *   events are written by the CPU they happen on, so a CPU coming or going
 *   needs nothing.
 */
#include <linux/module.h>
#include <linux/init.h>
#include <linux/miscdevice.h>
#include <linux/tracepoint.h>
#include <linux/vmalloc.h>
#include <linux/mm.h>
#include <linux/slab.h>
#include <linux/mutex.h>
#include <linux/rcupdate.h>
#include <linux/percpu.h>
#include <linux/log2.h>
#include <linux/compat.h>
#include <trace/events/syscalls.h>

#include "fill.h"
#include "fillers.h"
#include "version.h"

static unsigned long ring_bytes = SAKER_RING_DEFAULT;
module_param(ring_bytes, ulong, 0444);
MODULE_PARM_DESC(ring_bytes, "Default data bytes of each per-CPU ring (power of two, 128 KiB..512 MiB)");

struct saker_ring {
	struct saker_ring_info *info;	/* first page of the vmalloc'd area */
	__u8 *data;			/* the bytes after it */
	__u64 size;
};

struct saker_consumer {
	struct mutex lock;		/* setup ioctls and mmap */
	pid_t tgid;			/* never traced for this consumer */
	bool capturing;
	bool drop_failed;
	__u32 tracepoints;
	__u32 snap_len;
	__u64 ring_bytes;
	struct saker_ring *rings;	/* nr_cpu_ids entries, NULL until allocated */
	__u8 syscalls[SYSCALL_TABLE_SIZE];
	int slot;
};

static DEFINE_MUTEX(saker_lock);
static struct saker_consumer __rcu *consumers[SAKER_MAX_CONSUMERS];
static unsigned int n_consumers;
static atomic64_t ring_memory = ATOMIC64_INIT(0);
static bool tracepoints_on;

DEFINE_PER_CPU(struct fill_cpu, saker_fill_cpu);

struct saker_ring_info *saker_ring_info_of(struct saker_ring *ring)
{
	return ring->info;
}

/* Copies one event into a ring, or counts it as dropped. */
void saker_ring_submit(struct saker_ring *ring, const __u8 *data, __u32 len, __u16 type)
{
	struct saker_ring_info *info = ring->info;
	__u64 head = info->head;
	__u64 tail = smp_load_acquire(&info->tail);
	__u64 rlen = ALIGN(len, 8);
	__u64 used = head - tail;
	__u64 off, first;

	if (used > ring->size) {
		/* user space wrote a tail ahead of head */
		info->n_drops_other++;
		return;
	}
	if (ring->size - used < rlen) {
		enum drop_category cat = drop_category_of(type);

		if (cat < DROP_CATEGORIES)
			info->n_drops_buffer[cat]++;
		return;
	}
	off = head & (ring->size - 1);
	first = min(rlen, ring->size - off);
	/* the scratch area holds at least rlen bytes (AUXMAP_SIZE) */
	memcpy(ring->data + off, data, first);
	if (first < rlen)
		memcpy(ring->data, data + first, rlen - first);
	smp_store_release(&info->head, head + rlen);
}

/* The fillers, and the tables the dispatchers use. */
#include "progs.h"

static const saker_exit_filler exit_fillers[SYSCALL_TABLE_SIZE] = {
#define FILLER_EXIT(name) [SAKER_NR_##name] = sys_exit_##name,
#define FILLER_ENTER(name)
#include "list.h"
#undef FILLER_EXIT
#undef FILLER_ENTER
};

static const saker_enter_filler enter_fillers[SYSCALL_TABLE_SIZE] = {
#define FILLER_EXIT(name)
#define FILLER_ENTER(name) [SAKER_NR_##name] = sys_enter_##name,
#include "list.h"
#undef FILLER_EXIT
#undef FILLER_ENTER
};

static int generic_event(long id)
{
	REV(PPME_GENERIC_X);
	rev_u16(&ev, ppm_sc_of[id & (SYSCALL_TABLE_SIZE - 1)]);
	rev_u16(&ev, (__u16)id);
	rev_submit(&ev);
	return 0;
}

/* Points the builder of this CPU at a consumer's ring. */
static __always_inline void fill_target(struct fill_cpu *fc, struct saker_consumer *c)
{
	fc->ring = &c->rings[smp_processor_id()];
	fc->snap_len = c->snap_len;
}

static __always_inline bool skip_task(void)
{
	/* 32-bit syscalls number another table */
	return in_compat_syscall() || (current->flags & PF_KTHREAD);
}

static void probe_sys_enter(void *data, struct pt_regs *regs, long id)
{
	struct fill_cpu *fc;
	int i;

	if ((unsigned long)id >= SYSCALL_TABLE_SIZE || !enter_fillers[id])
		return;
	preempt_disable();
	if (skip_task())
		goto out;
	fc = this_cpu_ptr(&saker_fill_cpu);
	for (i = 0; i < SAKER_MAX_CONSUMERS; i++) {
		struct saker_consumer *c = rcu_dereference_sched(consumers[i]);

		if (!c || !smp_load_acquire(&c->capturing) || !(c->tracepoints & SAKER_TP_SYS_ENTER) ||
		    READ_ONCE(c->syscalls[id]) != SAKER_SYSCALL_FULL || current->tgid == c->tgid)
			continue;
		fill_target(fc, c);
		enter_fillers[id](regs);
	}
	fc->ring = NULL;
out:
	preempt_enable();
}

static void probe_sys_exit(void *data, struct pt_regs *regs, long ret)
{
	long id = syscall_get_nr(current, regs);
	struct fill_cpu *fc;
	int i;

	if ((unsigned long)id >= SYSCALL_TABLE_SIZE)
		return;
	preempt_disable();
	if (skip_task())
		goto out;
	fc = this_cpu_ptr(&saker_fill_cpu);
	for (i = 0; i < SAKER_MAX_CONSUMERS; i++) {
		struct saker_consumer *c = rcu_dereference_sched(consumers[i]);
		__u8 mode;

		if (!c || !smp_load_acquire(&c->capturing) || !(c->tracepoints & SAKER_TP_SYS_EXIT) ||
		    current->tgid == c->tgid)
			continue;
		mode = READ_ONCE(c->syscalls[id]);
		if (!mode || (c->drop_failed && ret < 0))
			continue;
		fill_target(fc, c);
		if (mode == SAKER_SYSCALL_FULL && exit_fillers[id])
			exit_fillers[id](regs, ret);
		else
			generic_event(id);
	}
	fc->ring = NULL;
out:
	preempt_enable();
}

static void probe_sched_process_exit(void *data, struct task_struct *p)
{
	struct fill_cpu *fc;
	int i;

	/* every task, kernel threads too, as the modern probe */
	preempt_disable();
	fc = this_cpu_ptr(&saker_fill_cpu);
	for (i = 0; i < SAKER_MAX_CONSUMERS; i++) {
		struct saker_consumer *c = rcu_dereference_sched(consumers[i]);

		if (!c || !smp_load_acquire(&c->capturing) || !(c->tracepoints & SAKER_TP_SCHED_PROCESS_EXIT) ||
		    p->tgid == c->tgid)
			continue;
		fill_target(fc, c);
		sched_proc_exit(p);
	}
	fc->ring = NULL;
	preempt_enable();
}

/*
 * Tracepoints: found by name (the raw_syscalls ones are not exported as
 * symbols to modules on every kernel).
 */

struct saker_tp {
	const char *name;
	void *probe;
	struct tracepoint *tp;
};

static struct saker_tp saker_tps[] = {
	{ .name = "sys_enter", .probe = probe_sys_enter },
	{ .name = "sys_exit", .probe = probe_sys_exit },
	{ .name = "sched_process_exit", .probe = probe_sched_process_exit },
};

static void find_tp(struct tracepoint *tp, void *priv)
{
	int i;

	for (i = 0; i < ARRAY_SIZE(saker_tps); i++)
		if (!strcmp(tp->name, saker_tps[i].name))
			saker_tps[i].tp = tp;
}

static void tracepoints_off(void)
{
	int i;

	for (i = 0; i < ARRAY_SIZE(saker_tps); i++)
		if (saker_tps[i].tp)
			tracepoint_probe_unregister(saker_tps[i].tp, saker_tps[i].probe, NULL);
	tracepoint_synchronize_unregister();
	tracepoints_on = false;
}

/* Called with saker_lock held. */
static int tracepoints_attach(void)
{
	int i, err;

	if (tracepoints_on)
		return 0;
	for (i = 0; i < ARRAY_SIZE(saker_tps); i++) {
		err = tracepoint_probe_register(saker_tps[i].tp, saker_tps[i].probe, NULL);
		if (err) {
			while (--i >= 0)
				tracepoint_probe_unregister(saker_tps[i].tp, saker_tps[i].probe, NULL);
			tracepoint_synchronize_unregister();
			return err;
		}
	}
	tracepoints_on = true;
	return 0;
}

/*
 * Rings.
 */

static __u64 ring_span(__u64 bytes)
{
	return SAKER_RING_INFO_SIZE + 2 * bytes;
}

static void free_rings(struct saker_consumer *c)
{
	unsigned int cpu;

	if (!c->rings)
		return;
	for (cpu = 0; cpu < nr_cpu_ids; cpu++) {
		if (c->rings[cpu].info) {
			vfree(c->rings[cpu].info);
			atomic64_sub(SAKER_RING_INFO_SIZE + c->rings[cpu].size, &ring_memory);
		}
	}
	kfree(c->rings);
	c->rings = NULL;
}

/* Called with c->lock held. */
static int alloc_rings(struct saker_consumer *c)
{
	unsigned int cpu;

	if (c->rings)
		return 0;
	c->rings = kcalloc(nr_cpu_ids, sizeof(*c->rings), GFP_KERNEL);
	if (!c->rings)
		return -ENOMEM;
	for (cpu = 0; cpu < nr_cpu_ids; cpu++) {
		struct saker_ring *r = &c->rings[cpu];

		if (!cpu_possible(cpu))
			continue;
		r->info = vmalloc_user(SAKER_RING_INFO_SIZE + c->ring_bytes);
		if (!r->info) {
			free_rings(c);
			return -ENOMEM;
		}
		atomic64_add(SAKER_RING_INFO_SIZE + c->ring_bytes, &ring_memory);
		r->data = (__u8 *)r->info + SAKER_RING_INFO_SIZE;
		r->size = c->ring_bytes;
		r->info->ring_bytes = c->ring_bytes;
	}
	return 0;
}

static bool ring_bytes_valid(__u64 bytes)
{
	return bytes >= SAKER_RING_MIN && bytes <= SAKER_RING_MAX && is_power_of_2(bytes);
}

/*
 * The device.
 */

static int saker_open(struct inode *inode, struct file *file)
{
	struct saker_consumer *c;
	int slot, err;

	c = kzalloc(sizeof(*c), GFP_KERNEL);
	if (!c)
		return -ENOMEM;
	mutex_init(&c->lock);
	c->tgid = current->tgid;
	c->snap_len = 80;
	c->tracepoints = SAKER_TP_ALL;
	c->ring_bytes = ring_bytes;

	mutex_lock(&saker_lock);
	for (slot = 0; slot < SAKER_MAX_CONSUMERS; slot++)
		if (!rcu_access_pointer(consumers[slot]))
			break;
	if (slot == SAKER_MAX_CONSUMERS) {
		err = -EBUSY;
		goto fail;
	}
	err = tracepoints_attach();
	if (err)
		goto fail;
	c->slot = slot;
	n_consumers++;
	rcu_assign_pointer(consumers[slot], c);
	mutex_unlock(&saker_lock);
	file->private_data = c;
	return 0;
fail:
	mutex_unlock(&saker_lock);
	kfree(c);
	return err;
}

static int saker_release(struct inode *inode, struct file *file)
{
	struct saker_consumer *c = file->private_data;

	mutex_lock(&saker_lock);
	WRITE_ONCE(c->capturing, false);
	RCU_INIT_POINTER(consumers[c->slot], NULL);
	n_consumers--;
	if (!n_consumers)
		tracepoints_off();
	mutex_unlock(&saker_lock);
	/* every probe that could see c has finished */
	synchronize_rcu();
	free_rings(c);
	kfree(c);
	return 0;
}

static long saker_ioctl(struct file *file, unsigned int cmd, unsigned long arg)
{
	struct saker_consumer *c = file->private_data;
	void __user *uarg = (void __user *)arg;
	long err = 0;

	mutex_lock(&c->lock);
	switch (cmd) {
	case SAKER_IOCTL_GET_INFO: {
		struct saker_kmod_info info = {
			.api_version = SAKER_KMOD_API_VERSION,
			.n_cpus = nr_cpu_ids,
			.schema_version = SAKER_SCHEMA_VERSION,
			.ring_bytes = c->ring_bytes,
			.span = ring_span(c->ring_bytes),
			.consumers = READ_ONCE(n_consumers),
			.ring_memory = atomic64_read(&ring_memory),
		};

		if (copy_to_user(uarg, &info, sizeof(info)))
			err = -EFAULT;
		break;
	}
	case SAKER_IOCTL_SET_RING_BYTES: {
		__u64 bytes;

		if (copy_from_user(&bytes, uarg, sizeof(bytes)))
			err = -EFAULT;
		else if (!ring_bytes_valid(bytes))
			err = -EINVAL;
		else if (c->rings)
			err = -EBUSY;
		else
			c->ring_bytes = bytes;
		break;
	}
	case SAKER_IOCTL_SET_SYSCALL: {
		struct saker_syscall_mode m;

		if (copy_from_user(&m, uarg, sizeof(m)))
			err = -EFAULT;
		else if (m.nr >= SYSCALL_TABLE_SIZE || m.mode > SAKER_SYSCALL_FULL)
			err = -EINVAL;
		else
			WRITE_ONCE(c->syscalls[m.nr], m.mode);
		break;
	}
	case SAKER_IOCTL_SET_TRACEPOINTS: {
		__u32 tps;

		if (get_user(tps, (__u32 __user *)uarg))
			err = -EFAULT;
		else if (tps & ~SAKER_TP_ALL)
			err = -EINVAL;
		else
			WRITE_ONCE(c->tracepoints, tps);
		break;
	}
	case SAKER_IOCTL_SET_SNAPLEN: {
		__u32 len;

		if (get_user(len, (__u32 __user *)uarg))
			err = -EFAULT;
		else if (len > MAX_SNAPLEN)
			err = -EINVAL;
		else
			WRITE_ONCE(c->snap_len, len);
		break;
	}
	case SAKER_IOCTL_SET_DROP_FAILED: {
		__u32 on;

		if (get_user(on, (__u32 __user *)uarg))
			err = -EFAULT;
		else
			WRITE_ONCE(c->drop_failed, !!on);
		break;
	}
	case SAKER_IOCTL_START:
		err = alloc_rings(c);
		if (!err)
			/* the rings are visible to the probes before they start */
			smp_store_release(&c->capturing, true);
		break;
	case SAKER_IOCTL_STOP:
		WRITE_ONCE(c->capturing, false);
		break;
	case SAKER_IOCTL_GET_COUNTERS: {
		struct saker_ring_info out;
		__u64 cpu;

		if (get_user(cpu, (__u64 __user *)uarg)) {
			err = -EFAULT;
			break;
		}
		if (cpu >= nr_cpu_ids || !c->rings || !c->rings[cpu].info) {
			err = -EINVAL;
			break;
		}
		out = *c->rings[cpu].info;
		if (copy_to_user(uarg, &out, sizeof(out)))
			err = -EFAULT;
		break;
	}
	default:
		err = -ENOTTY;
	}
	mutex_unlock(&c->lock);
	return err;
}

/* Maps the ring of one CPU: its info page, then its data twice. */
static int saker_mmap(struct file *file, struct vm_area_struct *vma)
{
	struct saker_consumer *c = file->private_data;
	unsigned long len = vma->vm_end - vma->vm_start;
	unsigned long addr = vma->vm_start;
	__u64 span, offset, cpu, i, pages;
	struct saker_ring *r;
	int err;

	mutex_lock(&c->lock);
	err = alloc_rings(c);
	if (err)
		goto out;
	span = ring_span(c->ring_bytes);
	offset = (__u64)vma->vm_pgoff << PAGE_SHIFT;
	cpu = div64_u64(offset, span);
	err = -EINVAL;
	if (offset % span || len != span || cpu >= nr_cpu_ids || !c->rings[cpu].info)
		goto out;
	r = &c->rings[cpu];
#if LINUX_VERSION_CODE >= KERNEL_VERSION(6, 3, 0)
	vm_flags_set(vma, VM_DONTEXPAND | VM_DONTDUMP);
#else
	vma->vm_flags |= VM_DONTEXPAND | VM_DONTDUMP;
#endif
	pages = (SAKER_RING_INFO_SIZE + r->size) >> PAGE_SHIFT;
	err = vm_insert_page(vma, addr, vmalloc_to_page(r->info));
	addr += PAGE_SIZE;
	for (i = 1; !err && i < pages; i++, addr += PAGE_SIZE)
		err = vm_insert_page(vma, addr, vmalloc_to_page((__u8 *)r->info + (i << PAGE_SHIFT)));
	for (i = 1; !err && i < pages; i++, addr += PAGE_SIZE)
		err = vm_insert_page(vma, addr, vmalloc_to_page((__u8 *)r->info + (i << PAGE_SHIFT)));
out:
	mutex_unlock(&c->lock);
	return err;
}

static const struct file_operations saker_fops = {
	.owner = THIS_MODULE,
	.open = saker_open,
	.release = saker_release,
	.unlocked_ioctl = saker_ioctl,
	.compat_ioctl = compat_ptr_ioctl,
	.mmap = saker_mmap,
	.llseek = noop_llseek,
};

static struct miscdevice saker_dev = {
	.minor = MISC_DYNAMIC_MINOR,
	.name = "saker",
	.fops = &saker_fops,
	.mode = 0600,
};

/* What `saker driver status` reads without opening the device. */
static int get_consumers(char *buf, const struct kernel_param *kp)
{
	return sprintf(buf, "%u\n", READ_ONCE(n_consumers));
}

static int get_ring_memory(char *buf, const struct kernel_param *kp)
{
	return sprintf(buf, "%lld\n", (long long)atomic64_read(&ring_memory));
}

static int get_api_version(char *buf, const struct kernel_param *kp)
{
	return sprintf(buf, "%u.%u\n", SAKER_KMOD_API_MAJOR, SAKER_KMOD_API_MINOR);
}

static int get_schema_version(char *buf, const struct kernel_param *kp)
{
	return sprintf(buf, "%llx\n", (unsigned long long)SAKER_SCHEMA_VERSION);
}

static const struct kernel_param_ops consumers_ops = { .get = get_consumers };
static const struct kernel_param_ops ring_memory_ops = { .get = get_ring_memory };
static const struct kernel_param_ops api_version_ops = { .get = get_api_version };
static const struct kernel_param_ops schema_version_ops = { .get = get_schema_version };
module_param_cb(consumers, &consumers_ops, NULL, 0444);
MODULE_PARM_DESC(consumers, "Consumers with /dev/saker open (read only)");
module_param_cb(ring_memory, &ring_memory_ops, NULL, 0444);
MODULE_PARM_DESC(ring_memory, "Bytes of vmalloc'd ring memory (read only)");
module_param_cb(api_version, &api_version_ops, NULL, 0444);
MODULE_PARM_DESC(api_version, "Version of saker_kmod.h (read only)");
module_param_cb(schema_version, &schema_version_ops, NULL, 0444);
MODULE_PARM_DESC(schema_version, "Event schema fingerprint (read only)");

static void free_fill_cpus(void)
{
	unsigned int cpu;

	for_each_possible_cpu(cpu) {
		struct fill_cpu *fc = per_cpu_ptr(&saker_fill_cpu, cpu);

		vfree(fc->scratch);
		fc->scratch = NULL;
		vfree(fc->pb);
		fc->pb = NULL;
	}
}

static int __init saker_init(void)
{
	__u64 boot_time = ktime_get_real_ns() - ktime_get_boot_fast_ns();
	unsigned int cpu;
	int i, err;

	if (!ring_bytes_valid(ring_bytes)) {
		pr_err("saker: ring_bytes=%lu is not a power of two in [%u, %u]\n", ring_bytes,
		       SAKER_RING_MIN, SAKER_RING_MAX);
		return -EINVAL;
	}
	for_each_kernel_tracepoint(find_tp, NULL);
	for (i = 0; i < ARRAY_SIZE(saker_tps); i++) {
		if (!saker_tps[i].tp) {
			pr_err("saker: tracepoint %s not found\n", saker_tps[i].name);
			return -ENOENT;
		}
	}
	for_each_possible_cpu(cpu) {
		struct fill_cpu *fc = per_cpu_ptr(&saker_fill_cpu, cpu);

		fc->scratch = vzalloc(AUXMAP_SIZE);
		fc->pb = vzalloc(sizeof(struct pathbuf));
		fc->boot_time = boot_time;
		fc->ring = NULL;
		if (!fc->scratch || !fc->pb) {
			free_fill_cpus();
			return -ENOMEM;
		}
	}
	err = misc_register(&saker_dev);
	if (err) {
		free_fill_cpus();
		return err;
	}
	pr_info("saker: loaded, version %s, api %u.%u, schema %llx\n", SAKER_KMOD_VERSION, SAKER_KMOD_API_MAJOR,
		SAKER_KMOD_API_MINOR, (unsigned long long)SAKER_SCHEMA_VERSION);
	return 0;
}

static void __exit saker_exit(void)
{
	misc_deregister(&saker_dev);
	/* no consumer can be open: each holds a module reference */
	free_fill_cpus();
}

module_init(saker_init);
module_exit(saker_exit);

MODULE_LICENSE("GPL");
MODULE_AUTHOR("saker");
MODULE_DESCRIPTION("saker system-call capture");
MODULE_VERSION(SAKER_KMOD_VERSION);
