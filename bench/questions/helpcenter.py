"""Visitor questions for a small help-centre site (`bench/sites/helpcenter`).

The site is the help centre of Copperpot, a fictional British meal-kit delivery company: an
index and twelve short pages (plans and prices, delivery, skipping and cancelling, problems
with a box, account help, payments and gift cards, allergens, storage and packaging, FAQ,
contact, a terms summary, accessibility). It exists to measure the chatbot on a small site,
beside the two large documentation sets.

Both the site and the questions were written blind: their writer never looked at the product's
answering code or at any benchmark results. Pages are paths relative to `SITE_ROOT`, which is
relative to the repository root; see `bench.questions` for what the fields mean.
"""

from __future__ import annotations

from bench.questions import Question, QuestionSet, h, q, u, uh

SITE_ROOT = "bench/sites/helpcenter"

ANSWERABLE: tuple[Question, ...] = (
    # --- plans and prices ---
    q(
        "how much is it per meal for 2 of us, like 3 dinners a week?",
        "plans.html",
        "4.99",
        "29.94",
    ),
    h(
        "is the shipping free or do i pay extra for delivery every single week",
        "plans.html",
        "3.99",
        "16 or more servings",
    ),
    q(
        "i live on my own, do you do a box for just one person",
        "plans.html",
        "single-person boxes",
    ),
    q(
        "why was the steak dinner more expensive than the other meals i picked",
        "plans.html",
        "2.50",
        "Premium",
    ),
    h(
        "whats the deal for first time customers? my flatmate already had it at our address, "
        "can i still get it on my own account",
        "plans.html terms.html",
        "50%",
        "one account per household",
    ),
    # --- delivery ---
    q("do u deliver to belfast", "delivery.html", "Northern Ireland"),
    q(
        "sunday delivery?",
        "delivery.html",
        "between Tuesday and Saturday",
    ),
    h(
        "what time will the driver turn up, can i book 6pm because im at work",
        "delivery.html",
        "one-hour arrival window",
        "8am and 8pm",
    ),
    q(
        "whats the last day i can change the recipes for my tuesday box",
        "delivery.html",
        "11:59pm",
        "five days before",
    ),
    q(
        "nobody is home during the day, will the food be ok sitting outside the door until "
        "i get back in the evening?",
        "delivery.html",
        "24 hours",
        "safe place",
    ),
    h(
        "easter weekend coming up, is my box still coming on the normal day",
        "delivery.html",
        "move by a day",
        "at least a week in advance",
    ),
    q(
        "can i get this weeks box sent to my office instead of home",
        "delivery.html faq.html",
        "three addresses",
        "business addresses",
    ),
    # --- skipping, pausing, cancelling ---
    q(
        "going on holiday for 2 weeks, how do i stop the boxes coming while im away",
        "manage.html",
        "Skip this week",
        "Pause plan",
    ),
    h(
        "how far ahead can i skip? I already know I'm away in about 2 months",
        "manage.html",
        "eight weeks ahead",
    ),
    q(
        "I want to cancell, will you charge me anything for stopping",
        "manage.html terms.html",
        "no cancellation fee",
        "free of charge",
    ),
    q(
        "cancelled on friday but my account still shows a box coming on tuesday?? why am i "
        "still getting it",
        "manage.html delivery.html",
        "still be delivered and charged",
        "passed its cut-off",
    ),
    h(
        "can i just send you an email saying i want to cancel my subscription",
        "manage.html",
        "by phone",
        "don't accept cancellations by email",
    ),
    q(
        "we're moving to a new flat next month, what do i need to do about my deliveries",
        "manage.html delivery.html",
        "new address",
    ),
    # --- problems with a box ---
    q(
        "my box came without the chicken for one of the meals, what now",
        "problems.html",
        "Report a problem",
        "full value",
    ),
    h(
        "the cream had leaked all over everything. do I have to post it back to get my money?",
        "problems.html",
        "don't need to send anything back",
        "photo",
    ),
    q(
        "you gave me credit but i'd rather have the money back on my card, how long does that take",
        "problems.html",
        "5 to 10 working days",
    ),
    q(
        "box never showed up and its 9pm now",
        "problems.html",
        "12 noon",
        "redelivery",
    ),
    h(
        "forgot to skip last week and got charged for a box i didnt even want. refund please?",
        "problems.html",
        "wasn't skipped",
    ),
    q(
        "found mouldy peppers when i finally opened the bag on saturday, box came monday... "
        "is it too late to complain",
        "problems.html",
        "48 hours",
    ),
    # --- account and sign-in ---
    q(
        "password reset email not arriving",
        "account.html",
        "spam",
        "60 minutes",
    ),
    q(
        "it says my account is locked?? i only typed the password wrong a few times",
        "account.html",
        "30 minutes",
    ),
    h(
        "lost my phone with the authenticator thing on it, now i cant log in",
        "account.html",
        "backup code",
    ),
    q(
        "can you just text me a login code, i dont want to install an app",
        "account.html",
        "don't send codes by text message",
        "authenticator app",
    ),
    h(
        "i want all my personal data removed from your systems, how do i do that and how long",
        "account.html",
        "30 days",
        "six years",
    ),
    # --- payments, credit, gift cards ---
    q(
        "when does the money actually come out of my bank for each box",
        "payments.html",
        "at its cut-off",
        "five days before delivery",
    ),
    h("amex?", "payments.html", "American Express"),
    q(
        "my card got declined, what happens with this weeks order",
        "payments.html",
        "24 hours",
        "cancelled",
    ),
    q(
        "got a copperpot gift voucher for christmas, where do i type the code in",
        "payments.html",
        "Settings > Credits",
    ),
    q(
        "what do i get if my sister signs up through me",
        "payments.html",
        "20 credit",
        "30 off",
    ),
    # --- allergens and diets ---
    q(
        "my son has a really bad peanut allergy, is it safe for him to eat your food",
        "allergens.html",
        "cannot guarantee",
        "severe allergy",
    ),
    h(
        "im coeliac, are the gluten free recipes ok for me",
        "allergens.html",
        "coeliac disease",
        "not certified gluten-free",
    ),
    q("is the meat halal", "allergens.html", "not halal"),
    q(
        "i hate coriander, can u leave it out of my recipies",
        "allergens.html",
        "can't remove single ingredients",
    ),
    # --- storage and packaging ---
    q(
        "how many days can the salmon stay in the fridge before I have to cook it",
        "storage.html",
        "within 2 days",
    ),
    h(
        "what do i do with the ice packs, can i pour them down the sink",
        "storage.html",
        "general waste",
        "not down the sink",
    ),
    q(
        "will you take the empty boxes and cold bags back so they can be reused",
        "storage.html",
        "don't collect used packaging",
    ),
    # --- general questions ---
    q(
        "can i order just one box as a try without signing up to a subscription",
        "faq.html",
        "don't sell one-off boxes",
    ),
    q(
        "what do i need to have at home already? like oil and stuff",
        "faq.html",
        "cooking oil",
        "From your cupboard",
    ),
    h(
        "what happens if i forget to choose my meals before the deadline",
        "faq.html",
        "we pick recipes for you",
    ),
    # --- contact ---
    q(
        "are you open on sundays? i need to talk to someone about my order",
        "contact.html",
        "live chat only",
        "10am to 4pm",
    ),
    h("phone number for customer service", "contact.html", "0161 496 0732"),
    q(
        "can i come and collect my box from your warehouse in salford myself",
        "contact.html",
        "can't offer collection",
    ),
    q(
        "I complained twice and nobody fixed anything. who do i go to next, is there "
        "an ombudsman or something",
        "contact.html",
        "escalated",
        "eight weeks",
    ),
    # --- terms ---
    q(
        "dont i have 14 days to send it back like with any online order?",
        "terms.html",
        "doesn't apply",
        "perishable",
    ),
    h(
        "can you just put the price up whenever you like",
        "terms.html",
        "30 days' notice",
    ),
    # --- accessibility ---
    q(
        "my dad is partially sighted, could the recipe cards be printed in bigger writing",
        "accessibility.html",
        "18-point",
        "large-print",
    ),
    h("im deaf, how do I ring you", "accessibility.html", "18001"),
    q(
        "I use a wheelchair, can the delivery guy bring the box through into the kitchen",
        "accessibility.html",
        "front door",
        "can't bring it inside",
    ),
)

UNANSWERABLE: tuple[Question, ...] = (
    u("do you do a student discount"),
    u("are you hiring delivery drivers in leeds, how do i apply"),
    uh("whats the weather forecast for salford this weekend"),
    u("is copperpot cheaper than hellofresh for a family of four"),
    u("can you do catering for an office lunch, about 20 people"),
    u("who started copperpot and when was the company founded"),
    u("are your eggs free range"),
    u("are you a b corp, whats the carbon footprint of one meal"),
    uh("will you match a discount code from another meal kit company"),
    uh("is there a copperpot app for android"),
    u("which courier do you use, is it dpd or evri"),
    u("do you sell a copperpot cookbook with all the recipes in it"),
    uh("is your fish sustainably caught, is it msc certified"),
)

HELPCENTER = QuestionSet(
    name="helpcenter-visitors",
    site_root=SITE_ROOT,
    questions=ANSWERABLE + UNANSWERABLE,
)
