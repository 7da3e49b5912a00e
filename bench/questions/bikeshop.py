"""Visitor questions for a small bicycle repair shop's site (`bench/sites/bikeshop`).

The site is Spoke & Sprocket's, a fictional repair shop in a British town: fourteen short pages
(services, a price table, opening hours as a list, bookings, hire, workshops, warranty, FAQ,
team, contact, terms). A helper trying the product as a stranger wrote the site and asked
these questions through the API before anything was tuned on them; what it judged then is in
docs/performance.md (session 10). Since their answers were read while the small-site rules were
designed, every question is `tune`: the clinic's set (`clinic.py`) is the small sites' holdout.
"""

from __future__ import annotations

from bench.questions import Question, QuestionSet, q, u

SITE_ROOT = "bench/sites/bikeshop"

ANSWERABLE: tuple[Question, ...] = (
    q("when r u open", "hours.html", "8:30am"),
    q("are you open on mondays", "hours.html", "Monday: closed"),
    q("how much is a basic service", "prices.html", "£45"),
    q("whats the cheapest tune up", "prices.html", "£45"),
    q("my tyre is flat can u fix it now", "services.html faq.html", "while you wait"),
    q("how long does a puncture take", "services.html", "20 minutes"),
    q("how much to fix a puncture", "prices.html", "£12"),
    q("do u do ebikes", "services.html index.html", "e-bikes"),
    q("my ebike battery is dead can you fix it", "services.html", "manufacturer"),
    q("can I rent a bike for the weekend", "rentals.html", "£20 per day"),
    q("electric bike hire per day", "rentals.html", "£40 per day"),
    q("is there a deposit for hiring", "rentals.html", "£100 deposit"),
    q("where do i park", "hours.html", "parking bays"),
    q("how do i get there from the train station", "hours.html", "7 minute walk"),
    q("do you take apple pay", "faq.html", "Apple Pay"),
    q("can I pay with cheque", "faq.html", "do not accept cheques"),
    q("do you sell new bikes", "faq.html", "refurbished"),
    q("will you buy my old bike", "faq.html", "part-exchanges"),
    q("whats your guarantee on repairs", "warranty.html", "90 days"),
    q("bought off the internet, will you look at it", "faq.html", "regardless of where"),
    q("how long does a full overhaul take", "faq.html", "two working days"),
    q("classes for learning to fix bikes", "classes.html", "Beginner basics"),
    q("can i bring my dog", "faq.html", "on a lead"),
    q("is there a student discount", "prices.html", "10% off"),
    q("what happens if i dont pick up my bike", "booking.html terms.html", "£2 per day"),
    q("can i cancel my booking", "booking.html", "24 hours"),
    q("do u pick up bikes from home", "services.html prices.html", "£15"),
    q("are you open on christmas", "hours.html", "Christmas Eve"),
    q("who is the owner", "team.html", "Priya Shah"),
    q("custom wheels how long", "services.html", "7 to 10 working days"),
    q("opening hours", "hours.html", "9am to 5pm"),
    q("how much does the gold service cost", "prices.html", "£150"),
    q("price list", "prices.html", "£45"),
    q("whats your phone number", "contact.html booking.html", "01632 960 418"),
    q("do you do bike fitting and how much", "prices.html", "£120"),
    q("what time do i have to bring back a hire bike", "rentals.html", "5pm"),
    q("can i get my bike serviced on a sunday", "hours.html", "no repairs"),
    q("How much is a service?", "prices.html", "£45"),
    q("cost to hire a bike for a week", "rentals.html", "£80 per week"),
    q("can i get a refund on a workshop", "classes.html", "48 hours"),
    q("how long is the warranty on a refurbished bike", "warranty.html faq.html", "six-month"),
    q("what's your phone number?", "contact.html booking.html", "01632 960 418"),
)

UNANSWERABLE: tuple[Question, ...] = (
    u("is there a waiting list for the gold service"),
    u("what is the weather like in millbrook today"),
    u("who won the tour de france"),
    u("can you recommend a good pizza place nearby"),
    u("do you repair motorbikes"),
    u("how do i reset my strava password"),
    u("what is the capital of france"),
)

BIKESHOP = QuestionSet(
    name="bikeshop-visitors",
    site_root=SITE_ROOT,
    questions=ANSWERABLE + UNANSWERABLE,
)
