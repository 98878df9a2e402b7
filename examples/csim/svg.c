// SPDX-License-Identifier: MIT OR Apache-2.0
/*
 * csim --svg FILE: the folio after each `show` of a scenario, as one SVG file with a
 * frame per `show`: a cell per page (its mappings from the raw per-page _mapcount,
 * [PMC] only, shaded by count; a green bar where PageAnonExclusive is set; the page the
 * `show` named outlined in red), the step and the transcript's fields above the cells.
 * Frames are kept in memory and written at svg_close(), when the height is known.
 */
#include "csim.h"

#include <errno.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>

#define CELL		18	/* px per page cell */
#define COLS		32	/* cells per row */
#define MARGIN		12
#define LINE		16	/* px per text line */
#define WIDTH		(2 * MARGIN + COLS * CELL + 16 + 170)

static struct {
	FILE *file;
	char *buf;		/* the frames' markup */
	size_t len, cap;
	int y;			/* where the next frame starts */
	size_t widest;		/* characters of the longest text line */
	bool failed;		/* out of memory: svg_close() reports it */
} svg;

static void put(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
static void put(const char *fmt, ...)
{
	va_list ap;
	int n;

	if (svg.failed)
		return;
	for (;;) {
		size_t room = svg.cap - svg.len;

		va_start(ap, fmt);
		n = vsnprintf(svg.buf + svg.len, room, fmt, ap);
		va_end(ap);
		if (n < 0) {
			svg.failed = true;
			return;
		}
		if ((size_t)n < room) {
			svg.len += (size_t)n;
			return;
		}
		char *grown = realloc(svg.buf, 2 * svg.cap + (size_t)n + 1);

		if (!grown) {
			svg.failed = true;
			return;
		}
		svg.buf = grown;
		svg.cap = 2 * svg.cap + (size_t)n + 1;
	}
}

/* Text in SVG: the five characters XML reserves escaped. */
static void put_text(int x, int y, const char *style, const char *text)
{
	if (strlen(text) > svg.widest)
		svg.widest = strlen(text);
	put("<text x=\"%d\" y=\"%d\" %s>", x, y, style);
	for (const char *c = text; *c; c++) {
		switch (*c) {
		case '<': put("&lt;"); break;
		case '>': put("&gt;"); break;
		case '&': put("&amp;"); break;
		case '"': put("&quot;"); break;
		case '\'': put("&apos;"); break;
		default: put("%c", *c);
		}
	}
	put("</text>\n");
}

int svg_open(const char *path)
{
	svg.file = fopen(path, "w");
	if (!svg.file)
		return -1;
	svg.cap = 1 << 16;
	svg.buf = malloc(svg.cap);
	if (!svg.buf) {
		fclose(svg.file);
		svg.file = NULL;
		errno = ENOMEM;
		return -1;
	}
	svg.len = 0;
	svg.widest = 0;
	svg.y = MARGIN;
	return 0;
}

bool svg_enabled(void)
{
	return svg.file != NULL;
}

/* Fill of a page mapped `n` times (0: not mapped). */
static const char *shade(int n)
{
	static const char *const fills[] = { "#f2f2f2", "#9ecae1", "#4292c6", "#08519c" };

	return fills[n < 0 ? 0 : n > 3 ? 3 : n];
}

/* The folio-level counters beside the cells, in logical values (raw + 1). */
static void panel(struct sim *s, const struct folio *f, int x, int y)
{
	const fm_folio *h = &f->f;
	char line[128];
	int row = 0;

	if (!f->order) {
		snprintf(line, sizeof(line), "mapcount %d  refcount %d", f->pages[0].mapcount + 1,
			 h->refcount);
		put_text(x, y + 12, "", line);
		return;
	}
	snprintf(line, sizeof(line), "large mapcount %d", h->large_mapcount + 1);
	put_text(x, y + 12 + LINE * row++, "", line);
	snprintf(line, sizeof(line), "entire mapcount %d", h->entire_mapcount + 1);
	put_text(x, y + 12 + LINE * row++, "", line);
	for (int i = 0; i < 2; i++) {
		uint32_t id = (uint32_t)((h->mm_ids >> (32 * i)) & FM_MM_ID_MASK);

		snprintf(line, sizeof(line), "slot %d: %s x %d", i, id ? sim_id_name(s, id) : "-",
			 h->mm_id_mapcount[i] + 1);
		put("<rect x=\"%d\" y=\"%d\" width=\"150\" height=\"%d\" fill=\"%s\"/>\n", x - 4,
		    y + LINE * row + 1, LINE - 1, id ? "#fdd0a2" : "#f2f2f2");
		put_text(x, y + 12 + LINE * row++, "", line);
	}
	snprintf(line, sizeof(line), "S=%d: %s", (int)(h->mm_ids >> 63),
		 h->mm_ids >> 63 ? "maybe mapped shared" : "exclusive to one MM");
	put_text(x, y + 12 + LINE * row++, h->mm_ids >> 63 ? "fill=\"#d62728\"" : "", line);
	snprintf(line, sizeof(line), "refcount %d  pincount %d", h->refcount, h->pincount);
	put_text(x, y + 12 + LINE * row++, "", line);
}

void svg_frame(struct sim *s, const struct folio *f, unsigned int page, const char *step,
	       const char *fields)
{
	bool pmc = s->mode == FM_MODE_PMC;
	unsigned int n = f ? 1u << f->order : 0;
	unsigned int rows = (n + COLS - 1) / COLS;
	int y = svg.y, panel_h;

	if (!svg.file)
		return;
	put_text(MARGIN, y + 12, "font-weight=\"bold\"", step);
	put_text(MARGIN, y + 12 + LINE, "", fields);
	y += 2 * LINE + 4;
	for (unsigned int i = 0; i < n; i++) {
		int x = MARGIN + (int)(i % COLS) * CELL, cy = y + (int)(i / COLS) * CELL;
		/* [PMC] raw _mapcount + 1 = the page's mappings; [NOPMC] not kept per page */
		int maps = pmc ? f->pages[i].mapcount + 1 : 0;

		put("<rect x=\"%d\" y=\"%d\" width=\"%d\" height=\"%d\" fill=\"%s\" "
		    "stroke=\"%s\" stroke-width=\"%d\"/>\n", x, cy, CELL - 1, CELL - 1,
		    pmc ? shade(maps) : "#d9d9d9", i == page ? "#d62728" : "#ffffff",
		    i == page ? 2 : 1);
		if (f->pages[i].flags & FM_PAGE_ANON_EXCLUSIVE)
			put("<rect x=\"%d\" y=\"%d\" width=\"%d\" height=\"4\" fill=\"#2ca02c\"/>\n",
			    x + 1, cy + CELL - 6, CELL - 3);
		if (maps > 0)
			put("<text x=\"%d\" y=\"%d\" font-size=\"10\" text-anchor=\"middle\" "
			    "fill=\"%s\">%d</text>\n", x + CELL / 2, cy + 12,
			    maps >= 2 ? "#ffffff" : "#000000", maps);
	}
	if (f)
		panel(s, f, MARGIN + COLS * CELL + 16, y);
	/* the frame is as high as the cells or the panel (6 lines; 1 for a small folio) */
	panel_h = f && f->order ? 6 * LINE : LINE;
	y += (int)rows * CELL > panel_h ? (int)rows * CELL : panel_h;
	svg.y = y + LINE;
}

/* The legend, once, under the frames. */
static void legend(uint32_t mode)
{
	int y = svg.y;

	put_text(MARGIN, y + 12, "font-size=\"11\"",
		 mode == FM_MODE_PMC ?
		 "cell = page: shade and number = its mappings (raw _mapcount + 1); green bar = "
		 "PageAnonExclusive; red = the page shown" :
		 "cell = page ([NOPMC] keeps no per-page mapcount); green bar = "
		 "PageAnonExclusive; red = the page shown");
	svg.y = y + LINE + MARGIN;
}

int svg_close(uint32_t mode)
{
	int err = 0, width;

	if (!svg.file)
		return 0;
	legend(mode);
	/* 12 px monospace: about 7.3 px per character */
	width = 2 * MARGIN + (int)(svg.widest * 73 / 10);
	if (width < WIDTH)
		width = WIDTH;
	if (svg.failed) {
		errno = ENOMEM;
		err = -1;
	} else if (fprintf(svg.file,
			   "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"%d\" height=\"%d\" "
			   "font-family=\"monospace\" font-size=\"12\">\n"
			   "<rect width=\"100%%\" height=\"100%%\" fill=\"#ffffff\"/>\n",
			   width, svg.y) < 0 ||
		   fwrite(svg.buf, 1, svg.len, svg.file) != svg.len ||
		   fputs("</svg>\n", svg.file) == EOF) {
		err = -1;
	}
	if (fclose(svg.file))
		err = -1;
	svg.file = NULL;
	free(svg.buf);
	svg.buf = NULL;
	return err;
}
