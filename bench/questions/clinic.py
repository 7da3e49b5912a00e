"""Visitor questions for a small dental-clinic website (`bench/sites/clinic`).

The site is that of Harbourside Dental, a fictional independent NHS and private dental practice
in the British seaside town of Saltmouth: a home page and thirteen short pages (treatments, a
price list as a table, opening hours, emergency appointments, new patients, payment and
finance, a membership plan and insurance, a cancellation and missed-appointment policy, the
team, children's dentistry, accessibility and parking, FAQ, contact). It exists to measure the
chatbot on a second small customer site, beside the help centre: many facts live only in
tables or lists, and visitors write hyphenated words without the hyphen ("checkup", "xray").

Both the site and the questions were written blind: their writer never looked at the product's
answering code or at any benchmark results. Pages are paths relative to `SITE_ROOT`, which is
relative to the repository root; see `bench.questions` for what the fields mean.
"""

from __future__ import annotations

from bench.questions import Question, QuestionSet, h, q, u, uh

SITE_ROOT = "bench/sites/clinic"

ANSWERABLE: tuple[Question, ...] = (
    # --- prices (answered by the price table) ---
    q("how much for a scale and polish? im a private patient", "prices.html", "£62"),
    h("root canel on a back tooth how much if i go private", "prices.html", "£650"),
    q("teeth whitening price??", "prices.html", "£325"),
    q(
        "wisdon tooth needs to come out how much will it cost me",
        "prices.html",
        "£260",
        "Band 2",
    ),
    h("how much is a checkup if im not nhs", "prices.html", "£48"),
    q("cost of an xray", "prices.html", "£18", "£45"),
    h("how much are implants roughly", "prices.html payment.html", "£2,600"),
    q("my son needs a gumshield for rugby whats the price", "prices.html", "£90"),
    q(
        "how much to get a white filling on my front tooth done privately",
        "prices.html",
        "£120",
    ),
    h("how much is invisaline, the see through brace thing", "prices.html", "£2,450"),
    # --- opening hours ---
    q("whens the dentist open on sat", "opening-hours.html", "9am", "1pm"),
    h(
        "do u do late appointments? i work till 6",
        "opening-hours.html team.html",
        "8pm",
        "Thursday",
    ),
    q("open on easter monday?", "opening-hours.html", "closed on all bank holidays"),
    h(
        "rang at half 1 and nobody picked up, have u shut down??",
        "opening-hours.html",
        "1pm to 2pm",
        "stays open",
    ),
    q("can i see the hygenist on a monday", "opening-hours.html", "Tuesday to Saturday"),
    q(
        "r u open between xmas and new year, think ive got an abscess",
        "opening-hours.html",
        "29 December",
        "NHS 111",
    ),
    # --- FAQ ---
    h("does it hurt getting a filling", "faq.html", "local anaesthetic", "2 to 4 hours"),
    q("do u have wifi in the waiting room", "faq.html", "Harbourside-Guest"),
    q("do you do botox", "faq.html", "don't offer facial aesthetics"),
    h(
        "are xrays safe? bit worried about the radiation",
        "faq.html",
        "a day of natural background radiation",
    ),
    q(
        "can i just book a clean with the hygienist without a checkup first",
        "faq.html",
        "without a referral from a dentist",
    ),
    h(
        "im terrified, can you put me to sleep for my treatment",
        "faq.html",
        "don't offer sedation",
        "Community Dental Service",
    ),
    q("how often am i meant to have a checkup", "faq.html", "every 3 months to every 2 years"),
    # --- emergencies ---
    q(
        "knocked my front tooth clean out playing football what do i do",
        "emergency.html",
        "in milk",
        "within an hour",
    ),
    h(
        "bad toothache and its sunday, what do i do",
        "emergency.html opening-hours.html",
        "NHS 111",
    ),
    q(
        "im not one of ur patients but im in agony, can u still see me today",
        "emergency.html",
        "aren't registered with us",
        "£85",
    ),
    # --- new patients ---
    q(
        "r u taking on nhs patients",
        "new-patients.html index.html",
        "adult NHS list is currently full",
        "children under 18",
    ),
    h(
        "havent been to the dentist in like 3 yrs am i still on your books",
        "new-patients.html",
        "at least once every two years",
    ),
    q(
        "can i book my first appointment online",
        "new-patients.html contact.html",
        "can't book online",
        "booked by phone",
    ),
    # --- payment and finance ---
    q("do u take amex", "payment.html", "American Express"),
    h(
        "can i pay off my aligners monthly instead of all in one go",
        "payment.html",
        "0% APR",
        "£500",
    ),
    # --- membership plan and insurance ---
    q("how much is ur monthly plan thing", "care-plan.html", "£14.95", "£22.50"),
    h(
        "ive got bupa cover through work, can u bill them directly",
        "care-plan.html",
        "can't bill insurance companies directly",
        "claim form",
    ),
    # --- cancellations and missed appointments ---
    q("whats the charge if i miss my appt", "cancellations.html", "£40", "48 hours"),
    h(
        "running about 15 mins late will u still see me",
        "cancellations.html",
        "more than 10 minutes late",
    ),
    # --- team ---
    q("is there a dentist who speaks polish", "team.html", "Tomasz Nowak"),
    h("who does the implants there", "team.html treatments.html", "Marcus Hale"),
    # --- children ---
    q("what age should my baby first go to the dentist", "children.html", "first birthday"),
    h(
        "does my daughter get braces free on nhs",
        "children.html",
        "NHS orthodontist",
        "how severe",
    ),
    q("can my 15 yr old go to her appointment on her own", "children.html", "under 16"),
    # --- parking and accessibility ---
    q("where can i park near u", "find-us.html", "Harbour Road", "Blue Badge"),
    h("im in a wheelchair, can i get in ok", "find-us.html index.html", "step-free", "Rope Walk"),
    # --- treatments ---
    q("do u do that laser whitening", "treatments.html", "don't offer in-chair laser whitening"),
    h(
        "my denture snapped in half how quick can u fix it",
        "treatments.html",
        "before 11am",
        "next working day",
    ),
    # --- contact ---
    q("whats ur email address", "contact.html", "reception@harbourside-dental.co.uk"),
)

UNANSWERABLE: tuple[Question, ...] = (
    u("do u do snoring guards, my husband snores terrible"),
    uh("is there a harbourside dental in exeter as well, closer to my work"),
    u("how long till the hole heals after a tooth is pulled"),
    u("can i drink alcohol on the antibiotics the dentist gave me"),
    uh("do you sell gift vouchers for whitening, for my sisters birthday"),
    u("what does nhs dentistry cost in wales"),
    uh("are you hiring any dental nurses atm"),
    u("do u cut tongue ties for newborns"),
    uh("which toothpaste is best for sensitive teeth"),
    u("whats the weather like in saltmouth tomorrow"),
    uh("did plymouth argyle win on saturday"),
    u("got a good recipe for sugar free flapjacks for the kids"),
)

CLINIC = QuestionSet(
    name="clinic-visitors",
    site_root=SITE_ROOT,
    questions=ANSWERABLE + UNANSWERABLE,
)
