// SPDX-License-Identifier: MIT
// Per-context hashed timer wheel: 1 ms ticks, DNET_WHEEL_SLOTS slots; timers further out
// than one rotation stay in their slot and are skipped until their tick comes.
#include "dnet_int.h"

void dnet_timer_init(struct dnet_timer *t, dnet_timer_fn *fn)
{
    t->next = NULL;
    t->pprev = NULL;
    t->expire_tick = 0;
    t->fn = fn;
}

static void timer_link(struct dnet_wheel *w, struct dnet_timer *t)
{
    struct dnet_timer **head = &w->slot[t->expire_tick & (DNET_WHEEL_SLOTS - 1)];

    t->next = *head;
    if (t->next)
        t->next->pprev = &t->next;
    t->pprev = head;
    *head = t;
}

void dnet_timer_cancel(struct dnet_timer *t)
{
    if (!t->pprev)
        return;
    *t->pprev = t->next;
    if (t->next)
        t->next->pprev = t->pprev;
    t->next = NULL;
    t->pprev = NULL;
}

void dnet_timer_arm(struct dnet_ctx *ctx, struct dnet_timer *t, uint64_t delay_us)
{
    uint64_t tick = (ctx->now_us + delay_us + DNET_TICK_US - 1) / DNET_TICK_US;

    dnet_timer_cancel(t);
    /* A tick already run would wait a whole rotation: use the next one instead. */
    if (tick <= ctx->wheel.cur_tick)
        tick = ctx->wheel.cur_tick + 1;
    t->expire_tick = tick;
    timer_link(&ctx->wheel, t);
}

/* Detach slot @s, fire what is due by @now_tick, put the rest back. */
static int wheel_run_slot(struct dnet_ctx *ctx, unsigned s, uint64_t now_tick)
{
    struct dnet_timer *list = ctx->wheel.slot[s], *t;
    int fired = 0;

    ctx->wheel.slot[s] = NULL;
    if (list)
        list->pprev = &list;
    while ((t = list) != NULL) {
        dnet_timer_cancel(t); /* unlinks from the local list */
        if (t->expire_tick <= now_tick) {
            t->fn(ctx, t);     /* may re-arm t or others; cur_tick is set so they go ahead */
            fired++;
        } else {
            timer_link(&ctx->wheel, t);
        }
    }
    return fired;
}

int dnet_wheel_run(struct dnet_ctx *ctx, uint64_t now_tick)
{
    struct dnet_wheel *w = &ctx->wheel;
    int fired = 0;

    if (now_tick <= w->cur_tick)
        return 0;
    if (now_tick - w->cur_tick >= DNET_WHEEL_SLOTS) {
        /* A long gap (real clock stalled): one sweep over every slot. */
        w->cur_tick = now_tick;
        for (unsigned s = 0; s < DNET_WHEEL_SLOTS; s++)
            fired += wheel_run_slot(ctx, s, now_tick);
        return fired;
    }
    while (w->cur_tick < now_tick) {
        w->cur_tick++;
        fired += wheel_run_slot(ctx, (unsigned)(w->cur_tick & (DNET_WHEEL_SLOTS - 1)), w->cur_tick);
    }
    return fired;
}
