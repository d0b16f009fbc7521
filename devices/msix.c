#include "devices/msix.h"
#include "services/log.h"

#include <errno.h>
#include <stddef.h>
#include <string.h>

/* The table is accessed a dword at a time: each dword is a field of struct msix_entry. */
_Static_assert(sizeof(struct msix_entry) == PCI_MSIX_ENTRY_SIZE, "one table entry");
_Static_assert(offsetof(struct msix_entry, addr_hi) == PCI_MSIX_ENTRY_UPPER_ADDR, "upper address");
_Static_assert(offsetof(struct msix_entry, data) == PCI_MSIX_ENTRY_DATA, "data");
_Static_assert(offsetof(struct msix_entry, ctrl) == PCI_MSIX_ENTRY_VECTOR_CTRL, "vector control");
#define MSIX_LOG_BUDGET 4       /* delivery failures logged per device */

static uint16_t msix_control(const struct msix *m)
{
	return pci_get16(m->pci, m->cap + PCI_MSIX_FLAGS);
}

static bool vector_masked(const struct msix *m, unsigned v)
{
	uint16_t ctrl = msix_control(m);
	return !(ctrl & PCI_MSIX_FLAGS_ENABLE) || (ctrl & PCI_MSIX_FLAGS_MASKALL) ||
	       (m->table[v].ctrl & PCI_MSIX_ENTRY_CTRL_MASKBIT);
}

/* With the lock held: send vector now. */
static int msix_fire(struct msix *m, unsigned v, struct loop *via)
{
	struct msi_msg msg = {
		.address = (uint64_t)m->table[v].addr_hi << 32 | m->table[v].addr_lo,
		.data = m->table[v].data,
	};
	struct error err = { 0 };

	if (!m->src_ready[v]) {
		int r = irq_source_init_msi(&m->src[v], m->chip, &msg, m->chip->path, -1, &err);
		if (r) {
			irq_source_destroy(&m->src[v]);   /* the next interrupt tries afresh */
			return r;
		}
		m->src_ready[v] = true;
		m->src_msg[v] = msg;
	} else if (m->src_msg[v].address != msg.address || m->src_msg[v].data != msg.data) {
		int r = irq_source_set_msi(&m->src[v], &msg);
		if (r)
			return r;
		m->src_msg[v] = msg;
	}
	return irq_trigger(&m->src[v], via);
}

/*
 * With the lock held: msix_fire, counting what fails. The guest chooses the
 * address and data (and how many vectors take routes), so a failure may be its
 * doing: a few lines at most, and the device goes on.
 */
static int msix_send(struct msix *m, unsigned v, struct loop *via)
{
	int r = msix_fire(m, v, via);

	if (r) {
		m->delivery_errors++;
		log_guest_warning(&m->log_budget, "%s: MSI-X vector %u: interrupt not delivered: %s",
				  m->pci->name, v, strerror(-r));
	}
	return r;
}

/* With the lock held: deliver what became deliverable. */
static void msix_release_pending(struct msix *m)
{
	for (unsigned v = 0; v < m->nr; v++) {
		if ((m->pending & (1ULL << v)) && !vector_masked(m, v)) {
			m->pending &= ~(1ULL << v);
			(void)msix_send(m, v, NULL);   /* counted there; no one to hand it to here */
		}
	}
}

int msix_init(struct msix *m, struct pci_device *pci, struct irq_chip *chip, unsigned nr,
	      unsigned bir, uint32_t table_offset, uint32_t pba_offset)
{
	uint8_t cap[PCI_CAP_MSIX_SIZEOF] = { 0 };

	if (!nr || nr > MSIX_MAX_VECTORS || (table_offset & PCI_MSIX_TABLE_BIR) ||
	    (pba_offset & PCI_MSIX_PBA_BIR) || bir >= PCI_STD_NUM_BARS)
		return -EINVAL;
	memset(m, 0, sizeof(*m));
	pthread_mutex_init(&m->lock, NULL);
	m->pci = pci;
	m->chip = chip;
	m->nr = nr;
	m->log_budget = MSIX_LOG_BUDGET;
	for (unsigned v = 0; v < nr; v++)
		m->table[v].ctrl = PCI_MSIX_ENTRY_CTRL_MASKBIT;
	pci_set16(&cap[PCI_MSIX_FLAGS], (uint16_t)(nr - 1));
	pci_set32(&cap[PCI_MSIX_TABLE], table_offset | bir);
	pci_set32(&cap[PCI_MSIX_PBA], pba_offset | bir);
	m->cap = pci_device_add_cap(pci, PCI_CAP_ID_MSIX, cap, sizeof(cap));
	if (!m->cap)
		return -ENOSPC;
	pci_set16(&pci->wmask[m->cap + PCI_MSIX_FLAGS], PCI_MSIX_FLAGS_ENABLE | PCI_MSIX_FLAGS_MASKALL);
	return 0;
}

void msix_destroy(struct msix *m)
{
	for (unsigned v = 0; v < m->nr; v++)
		if (m->src_ready[v])
			irq_source_destroy(&m->src[v]);
	pthread_mutex_destroy(&m->lock);
}

void msix_table_access(struct msix *m, uint64_t offset, uint8_t *data, uint32_t len, bool is_write)
{
	/* Dwords, or a qword as two of them; anything else reads as ones and is ignored. */
	if ((len != 4 && len != 8) || (offset & (len - 1)) || offset + len > m->nr * PCI_MSIX_ENTRY_SIZE) {
		if (!is_write)
			memset(data, 0xff, len);
		return;
	}
	pthread_mutex_lock(&m->lock);
	for (uint32_t done = 0; done < len; done += 4) {
		uint64_t off = offset + done;
		uint32_t *field = (uint32_t *)&m->table[off / PCI_MSIX_ENTRY_SIZE] +
				  (off % PCI_MSIX_ENTRY_SIZE) / 4;
		if (!is_write) {
			memcpy(data + done, field, 4);
			continue;
		}
		uint32_t v;
		memcpy(&v, data + done, 4);
		if ((off % PCI_MSIX_ENTRY_SIZE) == PCI_MSIX_ENTRY_LOWER_ADDR)
			v &= ~0x3u;                     /* the address is dword aligned */
		else if ((off % PCI_MSIX_ENTRY_SIZE) == PCI_MSIX_ENTRY_VECTOR_CTRL)
			v &= PCI_MSIX_ENTRY_CTRL_MASKBIT;   /* only the mask bit is defined */
		*field = v;
	}
	if (is_write)
		msix_release_pending(m);
	pthread_mutex_unlock(&m->lock);
}

void msix_pba_access(struct msix *m, uint64_t offset, uint8_t *data, uint32_t len, bool is_write)
{
	if (is_write)
		return;
	pthread_mutex_lock(&m->lock);
	uint64_t pba = m->pending;
	pthread_mutex_unlock(&m->lock);
	for (uint32_t i = 0; i < len; i++)
		data[i] = offset + i < 8 ? (uint8_t)(pba >> (8 * (offset + i))) : 0;
}

void msix_config_written(struct msix *m, uint32_t offset, uint32_t len)
{
	uint32_t flags = m->cap + PCI_MSIX_FLAGS;

	if (offset > flags + 1 || offset + len <= flags)
		return;
	pthread_mutex_lock(&m->lock);
	msix_release_pending(m);
	pthread_mutex_unlock(&m->lock);
}

int msix_notify(struct msix *m, unsigned vector, struct loop *via)
{
	int r = 0;

	if (vector >= m->nr)
		return -EINVAL;
	pthread_mutex_lock(&m->lock);
	if (vector_masked(m, vector))
		m->pending |= 1ULL << vector;
	else
		r = msix_send(m, vector, via);
	pthread_mutex_unlock(&m->lock);
	return r;
}

bool msix_enabled(struct msix *m)
{
	return msix_control(m) & PCI_MSIX_FLAGS_ENABLE;
}
